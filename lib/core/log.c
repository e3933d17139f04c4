/* Logging: one line per message on stderr, prefixed "lading: " (and the level below error). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lading/log.h"

static int current_level = -1;

static enum ld_log_level level_from_env(void) {
  const char *e = getenv("LADING_LOG");
  if (!e) return LD_LOG_WARN;
  if (!strcmp(e, "error")) return LD_LOG_ERROR;
  if (!strcmp(e, "info")) return LD_LOG_INFO;
  if (!strcmp(e, "debug")) return LD_LOG_DEBUG;
  return LD_LOG_WARN;
}

void ld_log_set_level(enum ld_log_level level) { current_level = (int) level; }
enum ld_log_level ld_log_get_level(void) {
  if (current_level < 0) current_level = (int) level_from_env();
  return (enum ld_log_level) current_level;
}

void ld_log(enum ld_log_level level, const char *fmt, ...) {
  if (level > ld_log_get_level()) return;
  static const char *names[] = {"error", "warning", "info", "debug"};
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "lading: %s: %s\n", names[level], line);
}
