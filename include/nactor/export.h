/* nactor/export.h — the one visibility macro for the public API. */
#ifndef NACTOR_EXPORT_H
#define NACTOR_EXPORT_H
#if defined(NACT_STATIC_LIB)
#define NACT_DECL extern
#elif defined(__GNUC__)
#define NACT_DECL extern __attribute__((visibility("default")))
#else
#define NACT_DECL extern
#endif
#endif
