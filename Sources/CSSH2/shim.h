#ifndef ETL_CSSH2_SHIM_H
#define ETL_CSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_sftp.h>
#endif
