/* Logging to stderr. Level from LADING_LOG (error, warn, info, debug) or ld_log_set_level();
 * default warn. -q sets error. Progress output is not logging: see progress.h. */
#ifndef LADING_LOG_H
#define LADING_LOG_H

enum ld_log_level { LD_LOG_ERROR, LD_LOG_WARN, LD_LOG_INFO, LD_LOG_DEBUG };
void ld_log_set_level(enum ld_log_level level);
enum ld_log_level ld_log_get_level(void);
void ld_log(enum ld_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ld_warn(...) ld_log(LD_LOG_WARN, __VA_ARGS__)
#define ld_info(...) ld_log(LD_LOG_INFO, __VA_ARGS__)
#define ld_debug(...) ld_log(LD_LOG_DEBUG, __VA_ARGS__)

#endif
