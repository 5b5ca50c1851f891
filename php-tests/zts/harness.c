/*
 * A threaded PHP host for tests: one ZTS PHP embedded in this process
 * (libphp, built with --enable-zts --enable-embed), a SAPI of its own, and
 * N threads that each run M requests of one PHP script — the way threaded
 * servers (FrankenPHP, Apache's worker MPM) run PHP, unlike CLI and fpm,
 * which run one request per process.
 *
 *   harness [options] SCRIPT
 *     -n THREADS        threads (default 8)
 *     -r REQUESTS       requests per thread (default 10)
 *     -d NAME=VALUE     an INI setting for the whole process (php -d), e.g.
 *                       extension=/path/to/libweixin.so
 *     -t NAME=V0,V1,..  a per-thread INI setting, set at the start of every
 *                       request of thread i to V(i mod count), as a server's
 *                       per-host value (restored at the request's end)
 *
 * Every thread takes its own TSRM resources (ts_resource), then waits on a
 * barrier inside its first request, so that all first requests run their
 * script at the same moment. The script sees $_SERVER['ZTS_THREAD'],
 * ['ZTS_REQUEST'] and ['ZTS_THREADS']. Each thread's output (echo and
 * displayed errors) is collected apart and printed after all threads have
 * finished, as "== thread I ==" blocks, then one line
 * "harness: T threads x R requests: S ran, F failed". Exit status 0 when
 * every request started, ran its script to the end and exited with status 0.
 * Engine reports (a debug build's leak reports, assertions) go to stderr.
 */

#define _GNU_SOURCE /* pthread_barrier_t; the PHP headers want GNU string functions */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "php.h"
#include "SAPI.h"
#include "php_main.h"
#include "php_variables.h"
#include "zend_ini.h"
#include "zend_stream.h"

#ifndef ZTS
#error "the harness needs a thread-safe PHP (configure --enable-zts)"
#endif

struct setting {
	char *name;
	char **values; /* one per thread, cycled */
	size_t count;
};

struct worker {
	int index;
	pthread_t thread;
	/* What the thread's requests printed. */
	char *out;
	size_t len, cap;
	int request;
	int ran;    /* requests whose script ran to its end with exit status 0 */
	int failed; /* requests that did not start, bailed out or exited non-zero */
};

static const char *script_path;
static int thread_count = 8;
static int request_count = 10;
static struct setting *thread_ini;
static size_t thread_ini_count;
static pthread_barrier_t start_line;

static void fail(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fputs("harness: ", stderr);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
	va_end(args);
	exit(2);
}

static void append(struct worker *w, const char *text, size_t len)
{
	if (w->len + len + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + len + 1) {
			cap *= 2;
		}
		char *grown = realloc(w->out, cap);
		if (!grown) {
			fail("out of memory");
		}
		w->out = grown;
		w->cap = cap;
	}
	memcpy(w->out + w->len, text, len);
	w->len += len;
	w->out[w->len] = '\0';
}

static void appendf(struct worker *w, const char *format, ...)
{
	char line[512];
	va_list args;
	va_start(args, format);
	int n = vsnprintf(line, sizeof line, format, args);
	va_end(args);
	if (n > 0) {
		append(w, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
	}
}

/* ---- the SAPI: output to the calling thread's buffer ---- */

static size_t harness_ub_write(const char *str, size_t len)
{
	struct worker *w = SG(server_context);
	if (w) {
		append(w, str, len);
	} else {
		fwrite(str, 1, len, stderr); /* outside any request: startup errors */
	}
	return len;
}

static void harness_flush(void *server_context)
{
}

static void harness_send_header(sapi_header_struct *header, void *server_context)
{
}

static char *harness_read_cookies(void)
{
	return NULL;
}

static void harness_register_variables(zval *track_vars)
{
	struct worker *w = SG(server_context);
	char number[16];

	php_import_environment_variables(track_vars);
	if (!w) {
		return;
	}
	snprintf(number, sizeof number, "%d", w->index);
	php_register_variable("ZTS_THREAD", number, track_vars);
	snprintf(number, sizeof number, "%d", w->request);
	php_register_variable("ZTS_REQUEST", number, track_vars);
	snprintf(number, sizeof number, "%d", thread_count);
	php_register_variable("ZTS_THREADS", number, track_vars);
}

static void harness_log_message(const char *message, int syslog_type)
{
	struct worker *w = SG(server_context);
	if (w) {
		appendf(w, "log: %s\n", message);
	} else {
		fprintf(stderr, "log: %s\n", message);
	}
}

static int harness_startup(sapi_module_struct *module)
{
	return php_module_startup(module, NULL);
}

static sapi_module_struct harness_sapi = {
	.name = "weixin-zts-harness",
	.pretty_name = "weixin tests: threaded embed",
	.startup = harness_startup,
	.shutdown = php_module_shutdown_wrapper,
	.ub_write = harness_ub_write,
	.flush = harness_flush,
	.sapi_error = php_error,
	.send_header = harness_send_header,
	.read_cookies = harness_read_cookies,
	.register_server_variables = harness_register_variables,
	.log_message = harness_log_message,
	.php_ini_ignore = 1,
	.php_ini_ignore_cwd = 1,
	/* the rest (STANDARD_SAPI_MODULE_PROPERTIES) zero */
};

/* ---- one request ---- */

static void set_thread_ini(struct worker *w)
{
	for (size_t i = 0; i < thread_ini_count; i++) {
		struct setting *s = &thread_ini[i];
		const char *value = s->values[(size_t) w->index % s->count];
		zend_string *name = zend_string_init(s->name, strlen(s->name), 0);
		if (zend_alter_ini_entry_chars(name, value, strlen(value), ZEND_INI_SYSTEM, ZEND_INI_STAGE_ACTIVATE)
				!= SUCCESS) {
			appendf(w, "harness: %s=%s refused\n", s->name, value);
		}
		zend_string_release(name);
	}
}

static void run_request(struct worker *w)
{
	char *argv[] = { (char *) script_path, NULL };
	bool ok = false;

	SG(server_context) = w;
	SG(options) |= SAPI_OPTION_NO_CHDIR;
	SG(request_info).argc = 1;
	SG(request_info).argv = argv;
	SG(request_info).path_translated = (char *) script_path;
	SG(request_info).request_method = NULL;
	SG(request_info).query_string = NULL;

	if (php_request_startup() == SUCCESS) {
		SG(headers_sent) = 1;
		SG(request_info).no_headers = 1;
		set_thread_ini(w);
		if (w->request == 0) {
			/* Every thread is inside its first request: all start at once. */
			pthread_barrier_wait(&start_line);
		}
		zend_file_handle file;
		zend_stream_init_filename(&file, script_path);
		ok = php_execute_script(&file);
		zend_destroy_file_handle(&file);
		if (EG(exit_status) != 0) {
			appendf(w, "harness: request %d exited with status %d\n", w->request, EG(exit_status));
			ok = false;
		}
	} else {
		appendf(w, "harness: request %d did not start\n", w->request);
		if (w->request == 0) {
			pthread_barrier_wait(&start_line);
		}
	}
	php_request_shutdown(NULL);
	SG(server_context) = NULL;
	SG(request_info).argv = NULL;
	SG(request_info).argc = 0;
	SG(request_info).path_translated = NULL;
	if (ok) {
		w->ran++;
	} else {
		w->failed++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* This thread's globals (executor, compiler, SAPI, modules'). */
	(void) ts_resource(0);
	for (w->request = 0; w->request < request_count; w->request++) {
		run_request(w);
	}
	ts_free_thread();
	return NULL;
}

/* ---- the process ---- */

static char *ini_entries;
static size_t ini_len;

static void add_ini(const char *setting)
{
	size_t len = strlen(setting);
	char *grown = realloc(ini_entries, ini_len + len + 2);
	if (!grown) {
		fail("out of memory");
	}
	ini_entries = grown;
	memcpy(ini_entries + ini_len, setting, len);
	ini_len += len;
	ini_entries[ini_len++] = '\n';
	ini_entries[ini_len] = '\0';
}

static void add_thread_ini(char *setting)
{
	char *eq = strchr(setting, '=');
	if (!eq || eq == setting) {
		fail("-t wants NAME=V0,V1,..., got %s", setting);
	}
	*eq = '\0';
	struct setting s = { .name = setting };
	for (char *value = eq + 1;; ) {
		char *comma = strchr(value, ',');
		if (comma) {
			*comma = '\0';
		}
		s.values = realloc(s.values, (s.count + 1) * sizeof *s.values);
		if (!s.values) {
			fail("out of memory");
		}
		s.values[s.count++] = value;
		if (!comma) {
			break;
		}
		value = comma + 1;
	}
	thread_ini = realloc(thread_ini, (thread_ini_count + 1) * sizeof *thread_ini);
	if (!thread_ini) {
		fail("out of memory");
	}
	thread_ini[thread_ini_count++] = s;
}

static int positive(const char *text, const char *what)
{
	char *end;
	long n = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || n < 1 || n > 10000) {
		fail("%s wants a number from 1 to 10000, got %s", what, text);
	}
	return (int) n;
}

int main(int argc, char **argv)
{
	/* What the process-wide settings start from; -d comes after, and wins. */
	add_ini("html_errors=0");
	add_ini("display_errors=1");
	add_ini("display_startup_errors=1");
	add_ini("log_errors=0");
	add_ini("error_reporting=-1");
	add_ini("report_memleaks=1");
	add_ini("output_buffering=0");
	add_ini("implicit_flush=1");
	add_ini("max_execution_time=0");
	add_ini("max_input_time=-1");

	int i;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-n") == 0 && i + 1 < argc) {
			thread_count = positive(argv[++i], "-n");
		} else if (strcmp(arg, "-r") == 0 && i + 1 < argc) {
			request_count = positive(argv[++i], "-r");
		} else if (strcmp(arg, "-d") == 0 && i + 1 < argc) {
			add_ini(argv[++i]);
		} else if (strcmp(arg, "-t") == 0 && i + 1 < argc) {
			add_thread_ini(argv[++i]);
		} else if (arg[0] == '-') {
			fail("unknown option %s (usage: harness [-n THREADS] [-r REQUESTS] [-d NAME=VALUE]... "
				"[-t NAME=V0,V1,...]... SCRIPT)", arg);
		} else {
			break;
		}
	}
	if (i != argc - 1) {
		fail("one script expected (usage: harness [-n THREADS] [-r REQUESTS] [-d NAME=VALUE]... "
			"[-t NAME=V0,V1,...]... SCRIPT)");
	}
	script_path = argv[i];

#ifdef SIGPIPE
	signal(SIGPIPE, SIG_IGN); /* a peer closing a socket must not kill the process */
#endif
	php_tsrm_startup_ex(thread_count + 1);
	zend_signal_startup();
	sapi_startup(&harness_sapi);
	harness_sapi.ini_entries = ini_entries; /* after sapi_startup, which clears it */
	harness_sapi.executable_location = argv[0];
	if (harness_sapi.startup(&harness_sapi) == FAILURE) {
		fail("PHP did not start (see the messages above)");
	}

	struct worker *workers = calloc((size_t) thread_count, sizeof *workers);
	if (!workers) {
		fail("out of memory");
	}
	pthread_barrier_init(&start_line, NULL, (unsigned) thread_count);
	for (int t = 0; t < thread_count; t++) {
		workers[t].index = t;
		int error = pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]);
		if (error) {
			fail("pthread_create: %s", strerror(error));
		}
	}
	int ran = 0, failed = 0;
	for (int t = 0; t < thread_count; t++) {
		pthread_join(workers[t].thread, NULL);
		ran += workers[t].ran;
		failed += workers[t].failed;
	}
	pthread_barrier_destroy(&start_line);

	for (int t = 0; t < thread_count; t++) {
		printf("== thread %d ==\n%s", t, workers[t].out ? workers[t].out : "");
		if (workers[t].len && workers[t].out[workers[t].len - 1] != '\n') {
			putchar('\n');
		}
		free(workers[t].out);
	}
	printf("harness: %d threads x %d requests: %d ran, %d failed\n", thread_count, request_count, ran, failed);
	fflush(stdout);
	free(workers);

	php_module_shutdown();
	sapi_shutdown();
	tsrm_shutdown();
	free(ini_entries);
	for (size_t s = 0; s < thread_ini_count; s++) {
		free(thread_ini[s].values);
	}
	free(thread_ini);
	return failed == 0 ? 0 : 1;
}
