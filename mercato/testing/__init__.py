"""What tests (Mercato's own and a game's) check Mercato with: the invariant checker, the reference
book the engine is held to, event factories and the pytest plugin. None of it ships to Lambda."""
