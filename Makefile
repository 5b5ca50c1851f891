# make            build the extension (release) for the PHP of PHP_CONFIG
# make install    copy it into that PHP's extension dir and its settings where that PHP
#                 reads them: Debian's PHP (prefix /usr): weixin.ini into
#                 /etc/php/X.Y/mods-available, enabled for every SAPI (phpenmod); a PHP
#                 built from source: weixin.ini into its scan dir (php-config --ini-dir)
# make uninstall  undo all of that
# make deb        a Debian package for Debian's PHP X.Y (no debhelper needed):
#                 target/debian/phpX.Y-weixin_<version>_<arch>.deb (scripts/deb/)
# make test / demo / bench: scripts/test.sh, scripts/demo.sh, bench/run.sh
#
# PHP_CONFIG=/opt/php/bin/php-config make install: for another PHP (default: php-config on PATH).

PHP_CONFIG ?= php-config
PHP_VERSION := $(shell $(PHP_CONFIG) --version | cut -d. -f1,2)
EXTENSION_DIR := $(shell $(PHP_CONFIG) --extension-dir)
PHP_PREFIX := $(shell $(PHP_CONFIG) --prefix)
PHP_BINARY := $(shell $(PHP_CONFIG) --php-binary)
MODS_AVAILABLE ?= /etc/php/$(PHP_VERSION)/mods-available
# Debian's PHP packages: prefix /usr and /etc/php/X.Y, modules enabled with phpenmod.
DEBIAN_PHP := $(if $(filter /usr,$(PHP_PREFIX)),$(wildcard /etc/php/$(PHP_VERSION)))
# Another PHP's scan dir: php-config --ini-dir, else the one compiled into that PHP
# (empty when it was built without --with-config-file-scan-dir).
INI_DIR = $(or $(shell $(PHP_CONFIG) --ini-dir 2>/dev/null | grep '^/'),$(shell $(PHP_BINARY) -n -r 'echo PHP_CONFIG_FILE_SCAN_DIR;'))
INI_PATH = $(shell $(PHP_BINARY) -n -r 'echo PHP_CONFIG_FILE_PATH;')
# cargo's output: target/, or CARGO_TARGET_DIR when set (scripts/lib.sh may set it)
LIBRARY := $(or $(CARGO_TARGET_DIR),target)/release/libweixin.so

.PHONY: all build install uninstall deb test demo bench

all: build

# ext-php-rs builds against the `php` on PATH, or the one PHP names: named only when
# PHP_CONFIG's PHP is another one (cargo rebuilds whenever PHP or PHP_CONFIG change).
build:
	@if [ -z "$${PHP:-}" ] && [ "$$(readlink -f "$$(command -v php)")" != "$$(readlink -f $(PHP_BINARY))" ]; then \
		export PHP=$(PHP_BINARY); echo "PHP=$(PHP_BINARY) cargo build --release"; \
	else echo "cargo build --release"; fi; \
	cargo build --release

ifneq ($(DEBIAN_PHP),)
install: build
	install -D -m 0644 $(LIBRARY) $(DESTDIR)$(EXTENSION_DIR)/weixin.so
	install -D -m 0644 weixin.ini $(DESTDIR)$(MODS_AVAILABLE)/weixin.ini
	@if [ -z "$(DESTDIR)" ] && command -v phpenmod >/dev/null; then \
		phpenmod -v $(PHP_VERSION) weixin && echo "enabled for PHP $(PHP_VERSION) (restart php$(PHP_VERSION)-fpm to load it)"; \
	fi

uninstall:
	@if [ -z "$(DESTDIR)" ] && command -v phpdismod >/dev/null; then phpdismod -v $(PHP_VERSION) weixin || true; fi
	rm -f $(DESTDIR)$(EXTENSION_DIR)/weixin.so $(DESTDIR)$(MODS_AVAILABLE)/weixin.ini
else
install: build
	install -D -m 0644 $(LIBRARY) $(DESTDIR)$(EXTENSION_DIR)/weixin.so
	@ini_dir='$(INI_DIR)'; if [ -n "$$ini_dir" ]; then \
		echo "install -D -m 0644 weixin.ini $(DESTDIR)$$ini_dir/weixin.ini"; \
		install -D -m 0644 weixin.ini "$(DESTDIR)$$ini_dir/weixin.ini" && \
		echo "weixin.ini is in $$ini_dir, the scan dir of $(PHP_BINARY): every SAPI of that PHP loads it (restart its php-fpm)"; \
	else \
		echo "$(PHP_BINARY) has no scan dir for .ini files (built without --with-config-file-scan-dir):"; \
		echo "weixin.ini not installed; add extension=weixin to $(INI_PATH)/php.ini (settings: weixin.ini)"; \
	fi

uninstall:
	@ini_dir='$(INI_DIR)'; echo "rm -f $(DESTDIR)$(EXTENSION_DIR)/weixin.so$${ini_dir:+ $(DESTDIR)$$ini_dir/weixin.ini}"; \
	rm -f $(DESTDIR)$(EXTENSION_DIR)/weixin.so; [ -z "$$ini_dir" ] || rm -f "$(DESTDIR)$$ini_dir/weixin.ini"
endif

deb: build
	PHP_CONFIG='$(PHP_CONFIG)' scripts/deb/build.sh

test:
	scripts/test.sh

demo:
	scripts/demo.sh

bench:
	bench/run.sh
