#include "compiler_int.h"
