#include "compiler_int.h"
void chg_resolve(chg_compiler *c) { (void)c; }
