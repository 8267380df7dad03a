"""The ``pairup`` command. ``pairup commit`` goes to the running pairup first, before the rest
of pairup loads (:mod:`pairup.commit_request`); everything else goes to :func:`pairup.cli.main`."""

import sys


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["commit"]:
        from pairup import commit_request

        status = commit_request.commit(argv[1:])
        if status is not None:
            return status
    from pairup.cli import main as run

    return run(argv)
