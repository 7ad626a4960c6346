"""scalepath's CrossGuard policy pack. The engine runs this folder as its own process
(``python -u -m pulumi.policy <engine> .``); nothing outside it imports these modules."""
