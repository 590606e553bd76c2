/*
 * registry/names.c — local names: a string -> actor id table.
 *
 * Open hashing with chains under one mutex: names are looked up when
 * addressing, not per message, so a lock is fine here. A name is dropped
 * when its actor ends (the actor's ext remembers it).
 */
#include <stdlib.h>
#include <string.h>

#include "actors/internal.h"

struct entry {
	struct entry *next;
	nact_aid id;
	char name[]; /* NUL-terminated copy */
};

struct nacti_names {
	nng_mtx *mtx;
	struct entry **b;
	uint32_t nb;
	uint32_t n;
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

int nacti_names_init(nact_system *sys)
{
	struct nacti_names *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NACT_ENOMEM;
	t->nb = 64;
	t->b = calloc(t->nb, sizeof(*t->b));
	if (t->b == NULL || nng_mtx_alloc(&t->mtx) != 0) {
		free(t->b);
		free(t);
		return NACT_ENOMEM;
	}
	sys->names = t;
	return 0;
}

void nacti_names_fini(nact_system *sys)
{
	struct nacti_names *t = sys->names;
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->nb; i++) {
		struct entry *e = t->b[i];
		while (e != NULL) {
			struct entry *n = e->next;
			free(e);
			e = n;
		}
	}
	free(t->b);
	nng_mtx_free(t->mtx);
	free(t);
	sys->names = NULL;
}

static struct entry **find(struct nacti_names *t, const char *name)
{
	struct entry **pp = &t->b[hash(name) & (t->nb - 1)];
	while (*pp != NULL && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Remove and free the entry *pp points at. Under t->mtx. */
static void unlink_entry(struct nacti_names *t, struct entry **pp)
{
	struct entry *e = *pp;
	*pp = e->next;
	t->n--;
	free(e);
}

static void grow(struct nacti_names *t)
{
	uint32_t nb = t->nb * 2;
	struct entry **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return; /* keep the old table: slower, still correct */
	for (uint32_t i = 0; i < t->nb; i++) {
		struct entry *e = t->b[i];
		while (e != NULL) {
			struct entry *n = e->next;
			uint32_t k = hash(e->name) & (nb - 1);
			e->next = b[k];
			b[k] = e;
			e = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static int valid(const char *name)
{
	return name != NULL && name[0] != '\0' && strlen(name) <= NACT_NAME_MAX;
}

int nacti_names_add(nact_system *sys, const char *name, nact_aid id)
{
	struct nacti_names *t = sys->names;
	size_t len = strlen(name);
	struct entry *e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return NACT_ENOMEM;
	memcpy(e->name, name, len + 1);
	e->id = id;
	nng_mtx_lock(t->mtx);
	struct entry **pp = find(t, name);
	if (*pp != NULL && nact_alive(sys, (*pp)->id)) {
		nng_mtx_unlock(t->mtx);
		free(e);
		return NACT_EEXIST;
	}
	if (*pp != NULL)
		unlink_entry(t, pp); /* its actor ended: the name is free again */
	e->next = NULL;
	*pp = e;
	if (++t->n > t->nb * 2)
		grow(t);
	nng_mtx_unlock(t->mtx);
	return 0;
}

void nacti_names_drop(nact_system *sys, const char *name, nact_aid id)
{
	struct nacti_names *t = sys->names;
	nng_mtx_lock(t->mtx);
	struct entry **pp = find(t, name);
	if (*pp != NULL && (*pp)->id.v == id.v)
		unlink_entry(t, pp);
	nng_mtx_unlock(t->mtx);
}

/* A name given at spawn is dropped by the actor's end. A name registered
 * later is checked instead: whereis never returns an ended actor and
 * register takes over a name whose actor ended; both remove the stale
 * entry. */
int nact_register(nact_system *sys, const char *name, nact_aid id)
{
	if (sys == NULL || !valid(name))
		return NACT_EINVAL;
	if (!nact_alive(sys, id))
		return NACT_ENOENT;
	return nacti_names_add(sys, name, id);
}

int nact_unregister(nact_system *sys, const char *name)
{
	if (sys == NULL || !valid(name))
		return NACT_EINVAL;
	struct nacti_names *t = sys->names;
	int rv = NACT_ENOENT;
	nng_mtx_lock(t->mtx);
	struct entry **pp = find(t, name);
	if (*pp != NULL) {
		unlink_entry(t, pp);
		rv = 0;
	}
	nng_mtx_unlock(t->mtx);
	return rv;
}

nact_aid nact_whereis(nact_system *sys, const char *name)
{
	if (sys == NULL || !valid(name))
		return NACT_AID_NONE;
	struct nacti_names *t = sys->names;
	nact_aid id = NACT_AID_NONE;
	nng_mtx_lock(t->mtx);
	struct entry **pp = find(t, name);
	if (*pp != NULL) {
		id = (*pp)->id;
		if (!nact_alive(sys, id)) {
			/* its actor ended: drop the stale entry */
			unlink_entry(t, pp);
			id = NACT_AID_NONE;
		}
	}
	nng_mtx_unlock(t->mtx);
	return id;
}
