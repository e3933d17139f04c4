/* CVSS v3 base scores, severities, and OSV range evaluation.
 *
 * CVSS: the base equations of the CVSS v3.1 specification (section 7.1) with its Roundup
 * (section A.2, integer arithmetic so 4.000000001 rounds to 4.1 but 4.0 stays 4.0). v3.0
 * vectors use the same equations; the two versions differ only in Roundup's floating-point
 * care, which we apply to both.
 *
 * OSV ranges (ossf.github.io/osv-schema, "Evaluation"): within one range the events are sorted
 * by version ("0" first); walking them, an `introduced` at or below the version sets affected,
 * a `fixed` at or below clears it, a `last_affected` strictly below clears it. `limit` events
 * bound the range from above. A version also counts as affected when it appears in the
 * `versions` list. GIT ranges need commits, which an installed package does not have: ignored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lading/json.h"
#include "lading/scan.h"
#include "lading/util.h"

/* ---- CVSS -------------------------------------------------------------------------------- */

static double roundup(double x) {
  long long i = llround(x * 100000.0);
  if (i % 10000 == 0) return (double) i / 100000.0;
  return (double) (i / 10000 + 1) / 10.0;
}

/* Value of metric `name` in the vector ("/AV:N/"), or 0 if missing. */
static char metric(const char *vector, const char *name) {
  size_t n = strlen(name);
  for (const char *p = vector; (p = strstr(p, name)); p += n)
    if ((p == vector || p[-1] == '/') && p[n] == ':' && p[n + 1] && (p[n + 2] == '/' || !p[n + 2]))
      return p[n + 1];
  return 0;
}

double ld_cvss3_base_score(const char *vector) {
  if (!vector || (strncmp(vector, "CVSS:3.1/", 9) && strncmp(vector, "CVSS:3.0/", 9))) return -1;
  char av = metric(vector, "AV"), ac = metric(vector, "AC"), pr = metric(vector, "PR");
  char ui = metric(vector, "UI"), s = metric(vector, "S"), c = metric(vector, "C");
  char i = metric(vector, "I"), a = metric(vector, "A");
  double vav, vac, vpr, vui;
  switch (av) {
  case 'N': vav = 0.85; break;
  case 'A': vav = 0.62; break;
  case 'L': vav = 0.55; break;
  case 'P': vav = 0.2; break;
  default: return -1;
  }
  switch (ac) {
  case 'L': vac = 0.77; break;
  case 'H': vac = 0.44; break;
  default: return -1;
  }
  if (s != 'U' && s != 'C') return -1;
  bool changed = s == 'C';
  switch (pr) {
  case 'N': vpr = 0.85; break;
  case 'L': vpr = changed ? 0.68 : 0.62; break;
  case 'H': vpr = changed ? 0.5 : 0.27; break;
  default: return -1;
  }
  switch (ui) {
  case 'N': vui = 0.85; break;
  case 'R': vui = 0.62; break;
  default: return -1;
  }
  double cia[3];
  char m[3] = {c, i, a};
  for (int k = 0; k < 3; k++) {
    if (m[k] == 'H') cia[k] = 0.56;
    else if (m[k] == 'L') cia[k] = 0.22;
    else if (m[k] == 'N') cia[k] = 0;
    else return -1;
  }
  double iss = 1 - (1 - cia[0]) * (1 - cia[1]) * (1 - cia[2]);
  double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss;
  double expl = 8.22 * vav * vac * vpr * vui;
  if (impact <= 0) return 0;
  double base = changed ? 1.08 * (impact + expl) : impact + expl;
  return roundup(base < 10 ? base : 10);
}

const char *ld_cvss3_severity(double score) {
  if (score < 0) return "UNKNOWN";
  if (score == 0) return "NONE";
  if (score < 4.0) return "LOW";
  if (score < 7.0) return "MEDIUM";
  if (score < 9.0) return "HIGH";
  return "CRITICAL";
}

const char *ld_severity_name(ld_severity s) {
  static const char *names[] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
  return (unsigned) s < LD_ARRAY_SIZE(names) ? names[s] : "UNKNOWN";
}

int ld_severity_parse(const char *s) {
  static const struct {
    const char *name;
    ld_severity sev;
  } map[] = {{"unknown", LD_SEV_UNKNOWN},   {"not yet assigned", LD_SEV_UNKNOWN},
             {"unimportant", LD_SEV_LOW},   {"negligible", LD_SEV_LOW},
             {"low", LD_SEV_LOW},           {"medium", LD_SEV_MEDIUM},
             {"moderate", LD_SEV_MEDIUM},   {"high", LD_SEV_HIGH},
             {"important", LD_SEV_HIGH},    {"critical", LD_SEV_CRITICAL}};
  if (!s) return -1;
  size_t n = strcspn(s, "*"); /* Debian's "low**" */
  for (size_t i = 0; i < LD_ARRAY_SIZE(map); i++)
    if (strlen(map[i].name) == n && !strncasecmp(s, map[i].name, n)) return map[i].sev;
  return -1;
}

/* ---- OSV ranges -------------------------------------------------------------------------- */

typedef struct {
  const char *kind; /* "introduced", "fixed", "last_affected", "limit" */
  const char *version;
} osv_event;


static int event_cmp_with(ld_version_scheme s, const osv_event *a, const osv_event *b) {
  bool az = !strcmp(a->version, "0"), bz = !strcmp(b->version, "0");
  if (az || bz) return az && bz ? 0 : (az ? -1 : 1);
  return ld_vercmp(s, a->version, b->version);
}

/* Insertion sort: event lists are short, and this keeps the comparator's scheme explicit. */
static void sort_events(osv_event *ev, size_t n, ld_version_scheme s) {
  for (size_t i = 1; i < n; i++) {
    osv_event x = ev[i];
    size_t j = i;
    while (j > 0 && event_cmp_with(s, &ev[j - 1], &x) > 0) {
      ev[j] = ev[j - 1];
      j--;
    }
    ev[j] = x;
  }
}

static bool range_affects(const json_t *range, ld_version_scheme s, const char *version, char **fixed) {
  const char *type = ld_json_str(range, "type");
  if (!type || !strcmp(type, "GIT")) return false;
  json_t *events = json_object_get(range, "events");
  if (!json_is_array(events)) return false;
  size_t n = json_array_size(events);
  osv_event *ev = ld_xcalloc(n ? n : 1, sizeof *ev);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(events, i);
    const char *key;
    json_t *val;
    json_object_foreach(e, key, val) {
      if (json_is_string(val) && k < n) {
        ev[k].kind = key;
        ev[k].version = json_string_value(val);
        k++;
        break;
      }
    }
  }
  sort_events(ev, k, s);
  bool affected = false;
  bool limited = false, below_limit = false;
  for (size_t i = 0; i < k; i++) {
    if (!strcmp(ev[i].kind, "limit")) {
      limited = true;
      if (ld_vercmp(s, version, ev[i].version) < 0) below_limit = true;
    }
  }
  for (size_t i = 0; i < k; i++) {
    const osv_event *e = &ev[i];
    bool zero = !strcmp(e->version, "0");
    if (!strcmp(e->kind, "introduced")) {
      if (zero || ld_vercmp(s, version, e->version) >= 0) affected = true;
    } else if (!strcmp(e->kind, "fixed")) {
      if (ld_vercmp(s, version, e->version) >= 0) affected = false;
    } else if (!strcmp(e->kind, "last_affected")) {
      if (ld_vercmp(s, version, e->version) > 0) affected = false;
    }
  }
  if (limited && !below_limit) affected = false;
  if (affected && fixed) {
    for (size_t i = 0; i < k; i++)
      if (!strcmp(ev[i].kind, "fixed") && ld_vercmp(s, version, ev[i].version) < 0) {
        free(*fixed);
        *fixed = ld_xstrdup(ev[i].version);
        break;
      }
  }
  free(ev);
  return affected;
}

bool ld_osv_affected(const json_t *affected, ld_version_scheme scheme, const char *version,
                     char **fixed) {
  if (fixed) *fixed = NULL;
  json_t *versions = json_object_get(affected, "versions");
  size_t i;
  json_t *v;
  bool hit = false;
  json_array_foreach(versions, i, v) {
    if (json_is_string(v) && !strcmp(json_string_value(v), version)) hit = true;
  }
  json_t *ranges = json_object_get(affected, "ranges");
  json_t *r;
  json_array_foreach(ranges, i, r) {
    if (range_affects(r, scheme, version, fixed)) hit = true;
  }
  if (!hit && fixed) {
    free(*fixed);
    *fixed = NULL;
  }
  return hit;
}
