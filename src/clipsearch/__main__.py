from clipsearch.cli import main

main(prog_name="clipsearch")
