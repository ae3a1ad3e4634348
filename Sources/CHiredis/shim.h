#ifndef ETL_CHIREDIS_SHIM_H
#define ETL_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
