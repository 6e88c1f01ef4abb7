"""microbat studies: case files, the `microbat` command line, one script per paper figure."""
