#include "compiler_int.h"
void chg_typecheck(chg_compiler *c) { (void)c; }
