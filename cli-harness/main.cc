// The `doorstep` command: see ../shared/CLI.md for the contract.
#include "cli.h"

int main(int argc, char** argv) { return doorstep::cli::Main(argc, argv); }
