/*
 * supervisor/supervisor_internal.h — the supervisor actor's message types.
 *
 * Not installed. A supervisor is an ordinary actor (supervisor.c); these
 * are the type tags of the messages it handles besides NACT_T_DOWN and
 * NACT_T_EXIT. They sit in the runtime's reserved range (>= NACT_T_SYSTEM),
 * in a block of their own: actors/internal.h uses 0xFFFF0020.., the public
 * headers 0xFFFF0001.. and 0xFFFF0010...
 *
 * Bodies are msgpack arrays:
 *   INIT      (empty)           reply [err] when sent as a request
 *   START     [extra: uint]     reply [err, child id: uint]
 *   STOP      [child id: uint]  reply [err]
 *   WHICH     [max: uint]       reply [err, [[id: str, aid: uint, restarts:
 *                                 uint, last_reason: int, backoff_ms: uint,
 *                                 running: bool], ...]]
 *   RESTART   [serial, gen]     timer: restart one child (backoff, retry)
 *   KILL      [serial, gen]     timer: a stopping child's time is up
 *   GROUP     [0, gen]          timer: start a stopped group (backoff)
 */
#ifndef NACTOR_SUPERVISOR_INTERNAL_H
#define NACTOR_SUPERVISOR_INTERNAL_H

#define NACTI_T_SUP_INIT 0xFFFF0040u
#define NACTI_T_SUP_START 0xFFFF0041u
#define NACTI_T_SUP_STOP 0xFFFF0042u
#define NACTI_T_SUP_WHICH 0xFFFF0043u
#define NACTI_T_SUP_RESTART 0xFFFF0044u
#define NACTI_T_SUP_KILL 0xFFFF0045u
#define NACTI_T_SUP_GROUP 0xFFFF0046u
#define NACTI_T_SUP_REPLY 0xFFFF0047u

#endif
