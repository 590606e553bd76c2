/*
 * nactor/supervisor.h — exit reasons.
 *
 * An actor ends with an int reason: 0 is a normal exit, a NACT_E* code an
 * error, and the values below the runtime's own reasons. Supervision trees,
 * links and monitors build on these reasons.
 */
#ifndef NACTOR_SUPERVISOR_H
#define NACTOR_SUPERVISOR_H

#include <nactor/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACT_EXIT_NORMAL 0
#define NACT_EXIT_STOPPED (-1) /* nact_stop or system close */

/* A static string for an exit reason: "normal", "stopped", or the error
 * string of a NACT_E* code. */
NACT_DECL const char *nact_exit_str(int reason);

#ifdef __cplusplus
}
#endif
#endif
