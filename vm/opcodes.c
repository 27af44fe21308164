/*
 * opcodes.c — the tables generated from opcodes.def (names, operand
 * formats, meanings) and the opcode reference in Markdown (docs/bytecode.md
 * is this function's output; a test keeps them equal).
 */
#include "vm_int.h"

const char *const chg_vm_op_names[CHG_OP__COUNT] = {
#define CHG_OP(name, fmt, doc) #name,
#include "opcodes.def"
#undef CHG_OP
};

const char *const chg_vm_op_docs[CHG_OP__COUNT] = {
#define CHG_OP(name, fmt, doc) doc,
#include "opcodes.def"
#undef CHG_OP
};

void chg_opcodes_markdown(chg_buf *out)
{
    chg_buf_puts(out,
                 "# chg bytecode\n"
                 "\n"
                 "Generated from `vm/opcodes.def` by `chgc disasm --opcodes`; do not edit.\n"
                 "The design — registers, blocks, windows, verification — is in vm.md.\n"
                 "\n"
                 "Every instruction is 8 bytes: `op` (u8), `x` (u8), `a`, `b`, `c` (u16\n"
                 "each). The format column gives the meaning of x, a, b and c:\n"
                 "\n"
                 "| letter | operand |\n"
                 "| --- | --- |\n"
                 "| `-` | unused (must be 0) |\n"
                 "| `R` | register, within the block's window |\n"
                 "| `K` | constant-pool index |\n"
                 "| `P` / `E` | change / event path slot |\n"
                 "| `L` | let index |\n"
                 "| `T` | time-set index |\n"
                 "| `X` | regular-expression index |\n"
                 "| `B` | built-in index |\n"
                 "| `Y` | record-layout index |\n"
                 "| `F` | field index within layout c (x only) |\n"
                 "| `n` | count (x only) |\n"
                 "| `o` | 0 or 1 (x only) |\n"
                 "| `V` | context variable (x only): 0 freeze, 1 reason, 2 summary |\n"
                 "| `JJ` | jump target `b + (c << 16)` in the same block |\n"
                 "| `II` | signed 32-bit immediate `b + (c << 16)` |\n"
                 "\n"
                 "| # | opcode | format | meaning |\n"
                 "| --- | --- | --- | --- |\n");
    for (int i = 0; i < CHG_OP__COUNT; i++)
        chg_buf_printf(out, "| %d | `%s` | `%s` | %s |\n", i, chg_vm_op_names[i], chg_op_format(i),
                       chg_vm_op_docs[i]);
}
