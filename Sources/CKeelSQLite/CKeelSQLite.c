// Intentionally empty: the module only declares functions SQLiteNIO's vendored SQLite defines (see the header).
#include "CKeelSQLite.h"
