"""What one script run does, start to end: train the original model (`train`), one unlearning
run against its retrain reference (`forget`), a RUM sequence (`rum`), and the flag parsers the
entry scripts share. The top library layer: it imports every package below it and nothing
imports it except the entry scripts (main_*.py, mu_main.py, the packages' __main__.py, bench/)."""
