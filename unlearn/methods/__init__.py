"""One module a method. Every module in this folder is imported when `unlearn` is, so its
`@register(...)` runs: adding a method is adding one file here.

A method module imports `unlearn` (the registry, `UnlearnData`), `unlearn.harness` (the shared
loop pieces) and `engine`; it never imports `workflows`, and does not evaluate or save."""
from engine.registry import import_all

import_all(__name__, __path__)
