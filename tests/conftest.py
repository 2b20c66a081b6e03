import os

import pytest
import torch

# The suite shares 2 cores; one thread per test process keeps runs predictable.
torch.set_num_threads(int(os.environ.get("DESIGNSPACE_TEST_THREADS", "1")))


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""
    from designspace.cli import main

    def run(*argv):
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run
