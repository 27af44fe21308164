#include "compiler_int.h"
void chg_lint(chg_compiler *c) { (void)c; }
