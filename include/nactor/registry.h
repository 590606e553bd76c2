/*
 * nactor/registry.h — who is who: local names for actors.
 *
 * A name maps to one live actor; it is removed when the actor ends. Names
 * are copied (the caller keeps its string). Any thread.
 */
#ifndef NACTOR_REGISTRY_H
#define NACTOR_REGISTRY_H

#include <nactor/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACT_NAME_MAX 255

/* Errors: NACT_EEXIST (taken), NACT_ENOENT (id not alive), NACT_EINVAL
 * (empty or longer than NACT_NAME_MAX). */
NACT_DECL int nact_register(nact_system *sys, const char *name, nact_aid id);
/* Errors: NACT_ENOENT. */
NACT_DECL int nact_unregister(nact_system *sys, const char *name);
/* The id registered under name, or NACT_AID_NONE (v == 0). */
NACT_DECL nact_aid nact_whereis(nact_system *sys, const char *name);

#ifdef __cplusplus
}
#endif
#endif
