"""The relay's rules without I/O (ADR 28): :mod:`.rules` admits, sequences and fans out;
:mod:`.budgets` and :mod:`.doorway` keep anyone from taking the relay from everyone else;
:mod:`.actions` is what the rules ask the shell (:mod:`pairup.relay.server`) to do."""
