/* nactor/nactor.h — umbrella header: everything public. */
#ifndef NACTOR_NACTOR_H
#define NACTOR_NACTOR_H
#include <nactor/error.h>
#include <nactor/mailbox.h>
#include <nactor/actor.h>
#include <nactor/registry.h>
#include <nactor/transport.h>
#include <nactor/supervisor.h>
#include <nactor/pipeline.h>
#include <nactor/cache.h>
#include <nactor/logger.h>
#include <nactor/bus.h>
#include <nactor/limit.h>
#include <nactor/monitor.h>
#include <nactor/node.h>
#include <nactor/dcache.h>
#include <nactor/signal.h>
#define NACT_VERSION_MAJOR 0
#define NACT_VERSION_MINOR 1
#define NACT_VERSION_PATCH 0
#endif
