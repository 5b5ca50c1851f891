/*
 * The few Zend APIs ext-php-rs does not bind, wrapped in functions of our
 * own and compiled by build.rs against the headers of the PHP the extension
 * is built for. A prototype, calling convention (ZEND_FASTCALL), inline
 * helper or constant that changes in a PHP release then changes here with
 * it, or breaks the build, instead of becoming silent undefined behaviour
 * behind a hand-written Rust declaration. src/zend_ffi.rs declares these
 * wrappers, whose signatures are ours and do not change.
 */
#include "php.h"
#include "zend_attributes.h"
#include "zend_constants.h"
#include "zend_exceptions.h"
#include "zend_execute.h"
#include "zend_ini.h"
#include "php_ini.h"

/* The string an INI entry holds now, or with `original` the one it held
 * before the running request changed it (ini_set(), .user.ini); NULL when
 * there is no such entry. */
zend_string *weixin_shim_ini_entry(const char *name, size_t name_length, bool original)
{
	zend_ini_entry *entry = zend_hash_str_find_ptr(EG(ini_directives), name, name_length);

	if (!entry) {
		return NULL;
	}
	return (original && entry->modified) ? entry->orig_value : entry->value;
}

/* Puts the interned `mask` in the place of an INI entry's master value
 * (php.ini, -d, a php-fpm pool's php_value/php_admin_value), the one the
 * request restores at its end, so that ini_get() and ini_get_all() show the
 * mask; with `config`, get_cfg_var() too (MINIT only: that table is the
 * process's). Returns the value it replaced, now the caller's to keep, or
 * NULL when there was nothing to hide: empty, or hidden already. */
zend_string *weixin_shim_ini_hide(const char *name, size_t name_length, zend_string *mask, bool config)
{
	zend_ini_entry *entry = zend_hash_str_find_ptr(EG(ini_directives), name, name_length);
	zend_string **master;
	zend_string *hidden;
	zval *cfg;

	if (!entry) {
		return NULL;
	}
	master = entry->modified ? &entry->orig_value : &entry->value;
	if (!*master || *master == mask || ZSTR_LEN(*master) == 0) {
		return NULL;
	}
	hidden = *master;
	*master = mask;
	cfg = config ? cfg_get_entry(name, name_length) : NULL;
	if (cfg && Z_TYPE_P(cfg) == IS_STRING && Z_STR_P(cfg) != mask) {
		zend_string *shown = Z_STR_P(cfg);
		ZVAL_INTERNED_STR(cfg, mask);
		zend_string_release_ex(shown, 1);
	}
	return hidden;
}

/* MSHUTDOWN: the master value hidden by weixin_shim_ini_hide() back in
 * place, for the engine to free as it frees its own. */
void weixin_shim_ini_unhide(const char *name, size_t name_length, zend_string *mask, zend_string *hidden)
{
	zend_ini_entry *entry = zend_hash_str_find_ptr(EG(ini_directives), name, name_length);

	if (entry && entry->value == mask) {
		entry->value = hidden;
	}
}

/* A file path as PHP's own file functions resolve it (the request's
 * working directory, virtual under ZTS), into `resolved` (MAXPATHLEN
 * bytes); `path` is NUL-terminated, with no NUL before. 0: resolved and
 * allowed; 1: outside open_basedir; 2: not a path (empty, too long). No
 * warning is raised. */
int weixin_shim_resolve_path(const char *path, size_t path_length, char *resolved, size_t resolved_size)
{
	if (path_length == 0 || path_length >= MAXPATHLEN || resolved_size < MAXPATHLEN) {
		return 2;
	}
	if (!expand_filepath(path, resolved)) {
		return 2;
	}
	return php_check_open_basedir_ex(resolved, 0) == 0 ? 0 : 1;
}

/* open_basedir as it is now ("" when unset). */
const char *weixin_shim_open_basedir(void)
{
	return PG(open_basedir) ? PG(open_basedir) : "";
}

/* MAXPATHLEN of this PHP. */
size_t weixin_shim_max_path(void)
{
	return MAXPATHLEN;
}

zval *weixin_shim_get_constant(const char *name, size_t name_length)
{
	return zend_get_constant_str(name, name_length);
}

HashTable *weixin_shim_proptable_to_symtable(HashTable *properties, bool always_duplicate)
{
	return zend_proptable_to_symtable(properties, always_duplicate);
}

/* A class by its lowercase name, from the compiler's class table: usable
 * in MINIT, before the executor (and ext-php-rs's lookup) has one. */
zend_class_entry *weixin_shim_find_class(const char *lowercase_name, size_t name_length)
{
	return zend_hash_str_find_ptr(CG(class_table), lowercase_name, name_length);
}

/* `#[name]` on the parameter at `offset` (0 for the first) of an internal
 * function; takes the reference to `name`. */
void weixin_shim_add_parameter_attribute(zend_function *function, uint32_t offset, zend_string *name)
{
	zend_add_parameter_attribute(function, offset, name, 0);
}

/* The bits of an arg_info's type mask that are the type itself (the rest
 * carry flags such as the send mode). */
uint32_t weixin_shim_type_mask(void)
{
	return _ZEND_TYPE_MASK;
}

/* Moves a class to another key of the class table, in place (the bucket
 * keeps its position: one registered in MINIT stays among the classes the
 * engine treats as persistent). Only when `from` holds `ce`; false when it
 * does not, or `to` is taken. Both keys interned. */
bool weixin_shim_rekey_class(zend_class_entry *ce, zend_string *from, zend_string *to)
{
	zval *entry = zend_hash_find(CG(class_table), from);
	if (!entry || Z_TYPE_P(entry) != IS_PTR || Z_PTR_P(entry) != ce) {
		return false;
	}
	return zend_hash_set_bucket_key(CG(class_table), (Bucket *) entry, to) != NULL;
}

typedef zend_class_entry *(*weixin_autoload)(zend_string *name, zend_string *lc_name);

/* Installs `hook` as the engine's class autoloader (SPL's, which runs the
 * registered autoloaders, until then); returns the one it replaces. */
weixin_autoload weixin_shim_swap_autoload(weixin_autoload hook)
{
	weixin_autoload previous = zend_autoload;
	zend_autoload = hook;
	return previous;
}

/* `#[\AllowDynamicProperties]` on an internal class, flag and attribute
 * (subclasses inherit the flag; Reflection shows the attribute). */
void weixin_shim_allow_dynamic_properties(zend_class_entry *ce)
{
	ce->ce_flags |= ZEND_ACC_ALLOW_DYNAMIC_PROPERTIES;
	zend_add_class_attribute(ce, zend_string_init_interned("AllowDynamicProperties", sizeof("AllowDynamicProperties") - 1, 1), 0);
}

/* Whether an exception is being thrown on this thread. */
bool weixin_shim_exception_pending(void)
{
	return EG(exception) != NULL;
}

/* Drops the exception being thrown on this thread. */
void weixin_shim_clear_exception(void)
{
	zend_clear_exception();
}

/* `message` in PHP's error log (when log_errors is on) as PHP logs an
 * E_WARNING of the running function, without calling any error handler. */
void weixin_shim_log_warning(const char *message)
{
	const char *space = "";
	const char *class_name;
	const char *function;
	char *line;

	if (!PG(log_errors)) {
		return;
	}
	class_name = get_active_class_name(&space);
	function = get_active_function_name();
	spprintf(&line, 0, "PHP Warning:  %s%s%s(): %s in %s on line %" PRIu32, class_name, space,
		function ? function : "", message, zend_get_executed_filename(), zend_get_executed_lineno());
#ifdef HAVE_SYSLOG_H
	php_log_err_with_severity(line, LOG_WARNING);
#else
	php_log_err_with_severity(line, 4);
#endif
	efree(line);
}

/* The declared parameters of class_weixin's methods, parsed as PHP parses
 * an internal function's: a TypeError under strict_types, weak mode's
 * coercions (made in the call frame, as PHP makes them), the deprecation
 * of null for a non-nullable parameter. False when it threw. The method
 * then reads its arguments, now of their declared types, from the frame. */

/* __construct(?string $appid = null, ?string $appsecret = null, mixed ...$ignored) */
bool weixin_shim_parse_constructor(zend_execute_data *execute_data)
{
	zend_string *appid = NULL, *appsecret = NULL;
	zval *ignored;
	uint32_t ignored_count;

	ZEND_PARSE_PARAMETERS_START(0, -1)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR_OR_NULL(appid)
		Z_PARAM_STR_OR_NULL(appsecret)
		Z_PARAM_VARIADIC('*', ignored, ignored_count)
	ZEND_PARSE_PARAMETERS_END_EX(return false);
	(void) appid; (void) appsecret; (void) ignored; (void) ignored_count;
	return true;
}

/* get_ticket(string $type = 'jsapi') */
bool weixin_shim_parse_get_ticket(zend_execute_data *execute_data)
{
	zend_string *type = NULL;

	ZEND_PARSE_PARAMETERS_START(0, 1)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR(type)
	ZEND_PARSE_PARAMETERS_END_EX(return false);
	(void) type;
	return true;
}

/* jssdk_config(string $url, array $jsApiList = [], bool $debug = false, array $openTagList = []);
 * `*debug` gets $debug (a bool's coercion is not made in the frame). */
bool weixin_shim_parse_jssdk_config(zend_execute_data *execute_data, bool *debug)
{
	zend_string *url;
	zval *apis = NULL, *tags = NULL;

	*debug = false;
	ZEND_PARSE_PARAMETERS_START(1, 4)
		Z_PARAM_STR(url)
		Z_PARAM_OPTIONAL
		Z_PARAM_ARRAY(apis)
		Z_PARAM_BOOL(*debug)
		Z_PARAM_ARRAY(tags)
	ZEND_PARSE_PARAMETERS_END_EX(return false);
	(void) url; (void) apis; (void) tags;
	return true;
}

/* http_request()'s reply, read into a PHP string as it arrives. */

/* Whether memory_limit leaves room for a string of `capacity` bytes, as
 * the engine takes one from the system (what memory_limit is checked
 * against): a block that fits in a chunk may need a new chunk, a bigger one
 * is a mapping of its own (counted whole: growing one may copy it while the
 * old one is held), and beside a big one a chunk is left for what follows.
 * Sets memory_limit (negative: none) and what the heap holds. */
bool weixin_shim_room_for_string(size_t capacity, int64_t *limit, size_t *in_use)
{
	size_t block = _ZSTR_STRUCT_SIZE(capacity);
	size_t cost = ZEND_MM_ALIGNED_SIZE_EX(block, ZEND_MM_CHUNK_SIZE);

	*limit = (int64_t) PG(memory_limit);
	*in_use = zend_memory_usage(true);
	if (*limit < 0) {
		return true;
	}
	if (block > ZEND_MM_MAX_LARGE_SIZE) {
		cost += ZEND_MM_CHUNK_SIZE;
	}
	return block > capacity && *in_use <= (size_t) *limit && cost <= (size_t) *limit - *in_use;
}

/* A string of `capacity` bytes (not yet written), or `string` grown to
 * that, its bytes kept. The caller checked memory_limit first. */
zend_string *weixin_shim_string_grow(zend_string *string, size_t capacity)
{
	return string ? zend_string_realloc(string, capacity, 0) : zend_string_alloc(capacity, 0);
}

char *weixin_shim_string_bytes(zend_string *string)
{
	return ZSTR_VAL(string);
}

/* `string` as its first `length` bytes, NUL-terminated; a large unused
 * tail is given back (shrinking takes no new memory). No string: "". */
zend_string *weixin_shim_string_finish(zend_string *string, size_t length)
{
	if (!string) {
		return ZSTR_EMPTY_ALLOC();
	}
	if (ZSTR_LEN(string) - length > 4096) {
		string = zend_string_truncate(string, length, 0);
	}
	ZSTR_LEN(string) = length;
	ZSTR_VAL(string)[length] = '\0';
	return string;
}

void weixin_shim_string_free(zend_string *string)
{
	zend_string_efree(string);
}
