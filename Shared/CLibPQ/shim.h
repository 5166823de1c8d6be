#ifndef SYLLABUS_CLIBPQ_SHIM_H
#define SYLLABUS_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>
#endif
