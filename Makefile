# make            build the extension (release)
# make install    copy it into PHP's extension dir, install weixin.ini into
#                 Debian's mods-available and enable it for every SAPI (phpenmod)
# make uninstall  undo all of that
# make test / demo / bench: scripts/test.sh, scripts/demo.sh, bench/run.sh

PHP_CONFIG ?= php-config
PHP_VERSION := $(shell $(PHP_CONFIG) --version | cut -d. -f1,2)
EXTENSION_DIR := $(shell $(PHP_CONFIG) --extension-dir)
MODS_AVAILABLE ?= /etc/php/$(PHP_VERSION)/mods-available
LIBRARY := target/release/libweixin.so

.PHONY: all build install uninstall test demo bench

all: build

build:
	cargo build --release

install: build
	install -D -m 0644 $(LIBRARY) $(DESTDIR)$(EXTENSION_DIR)/weixin.so
	install -D -m 0644 weixin.ini $(DESTDIR)$(MODS_AVAILABLE)/weixin.ini
	@if [ -z "$(DESTDIR)" ] && command -v phpenmod >/dev/null; then \
		phpenmod -v $(PHP_VERSION) weixin && echo "enabled for PHP $(PHP_VERSION) (restart php$(PHP_VERSION)-fpm to load it)"; \
	fi

uninstall:
	@if [ -z "$(DESTDIR)" ] && command -v phpdismod >/dev/null; then phpdismod -v $(PHP_VERSION) weixin || true; fi
	rm -f $(DESTDIR)$(EXTENSION_DIR)/weixin.so $(DESTDIR)$(MODS_AVAILABLE)/weixin.ini

test:
	scripts/test.sh

demo:
	scripts/demo.sh

bench:
	bench/run.sh
