"""`python -m peer --input DIR --output DIR [--config FILE] [--set KEY=VALUE ...] [--no-rejects]`"""
import sys

from peer.driver import main

if __name__ == "__main__":
    sys.exit(main())
