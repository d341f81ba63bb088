from clipsearch.cli import run

run()
