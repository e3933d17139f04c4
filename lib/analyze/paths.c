/* The arena and the interned path table of the analyzer (see internal.h).
 *
 * The arena hands out 8-byte aligned pieces of 1 MiB chunks and frees them all at once: path
 * strings and link targets of a whole image cost one allocation per megabyte, not one per entry.
 *
 * The path table is open addressing with linear probing over XXH3-64 of the full relative path;
 * the table stores ids, and each node keeps its key so that probes compare 64-bit keys before
 * strings. It doubles at 50% load. Interning creates the missing ancestors first (walking up with
 * memrchr), so a node's parent always exists and every node is reachable from the root (id 0).
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "internal.h"
#include "lading/util.h"

#define AN_CHUNK (1u << 20)

struct an_chunk {
  an_chunk *next;
  char data[];
};

void *an_arena_alloc(an_arena *a, size_t n) {
  n = (n + 7) & ~(size_t) 7;
  if (n > a->left) {
    size_t size = n > AN_CHUNK / 4 ? n : AN_CHUNK;
    an_chunk *c = ld_xmalloc(sizeof *c + size);
    c->next = a->head;
    a->head = c;
    a->cur = c->data;
    a->left = size;
  }
  void *p = a->cur;
  a->cur += n;
  a->left -= n;
  return p;
}

char *an_arena_strndup(an_arena *a, const char *s, size_t n) {
  char *p = an_arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void an_arena_free(an_arena *a) {
  for (an_chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  memset(a, 0, sizeof *a);
}

static uint64_t path_key(const char *s, size_t len) { return XXH3_64bits(s, len); }

static uint32_t new_node(an_paths *p, const char *path, size_t len, uint64_t key,
                         uint32_t parent) {
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 1024;
    p->nodes = ld_xrealloc(p->nodes, (size_t) p->cap * sizeof *p->nodes);
  }
  uint32_t id = p->n++;
  an_node *n = &p->nodes[id];
  memset(n, 0, sizeof *n);
  n->path = an_arena_strndup(&p->arena, path, len);
  n->len = (uint32_t) len;
  n->key = key;
  const char *slash = memrchr(path, '/', len);
  n->name_off = slash ? (uint32_t) (slash - path + 1) : 0;
  n->parent = parent;
  n->first_child = n->next_sibling = AN_NONE;
  n->member_entry = AN_NONE;
  n->eff_min = -1;
  if (parent != AN_NONE) {
    n->next_sibling = p->nodes[parent].first_child;
    p->nodes[parent].first_child = id;
  }
  return id;
}

static void slots_insert(uint32_t *slots, size_t n_slots, uint64_t key, uint32_t id) {
  size_t mask = n_slots - 1;
  for (size_t i = key & mask;; i = (i + 1) & mask)
    if (!slots[i]) {
      slots[i] = id + 1;
      return;
    }
}

static void slots_grow(an_paths *p) {
  size_t n_slots = p->n_slots * 2;
  uint32_t *slots = ld_xcalloc(n_slots, sizeof *slots);
  for (uint32_t id = 0; id < p->n; id++) slots_insert(slots, n_slots, p->nodes[id].key, id);
  free(p->slots);
  p->slots = slots;
  p->n_slots = n_slots;
}

void an_paths_init(an_paths *p) {
  memset(p, 0, sizeof *p);
  p->n_slots = 4096;
  p->slots = ld_xcalloc(p->n_slots, sizeof *p->slots);
  uint32_t root = new_node(p, "", 0, path_key("", 0), AN_NONE);
  slots_insert(p->slots, p->n_slots, p->nodes[root].key, root);
  p->nodes[root].dive_present = p->nodes[root].present = true;
  p->nodes[root].dive_isdir = true;
  p->nodes[root].info.type = LD_AN_DIR;
}

void an_paths_free(an_paths *p) {
  free(p->nodes);
  free(p->slots);
  an_arena_free(&p->arena);
  memset(p, 0, sizeof *p);
}

static uint32_t lookup(const an_paths *p, const char *path, size_t len, uint64_t key) {
  size_t mask = p->n_slots - 1;
  for (size_t i = key & mask;; i = (i + 1) & mask) {
    uint32_t s = p->slots[i];
    if (!s) return AN_NONE;
    const an_node *n = &p->nodes[s - 1];
    if (n->key == key && n->len == len && !memcmp(n->path, path, len)) return s - 1;
  }
}

uint32_t an_paths_find(const an_paths *p, const char *path, size_t len) {
  return lookup(p, path, len, path_key(path, len));
}

uint32_t an_paths_intern(an_paths *p, const char *path, size_t len) {
  uint64_t key = path_key(path, len);
  uint32_t id = lookup(p, path, len, key);
  if (id != AN_NONE) return id;
  const char *slash = memrchr(path, '/', len);
  uint32_t parent = slash ? an_paths_intern(p, path, (size_t) (slash - path)) : 0;
  if ((size_t) (p->n + 1) * 2 > p->n_slots) slots_grow(p);
  id = new_node(p, path, len, key, parent);
  slots_insert(p->slots, p->n_slots, key, id);
  return id;
}
