"""One registry helper for every kind of named thing a flag selects (models, data sets, methods):
it refuses a name registered twice and turns an unknown name into a one-line error."""
import importlib
import pkgutil

from .errors import UserError


class Registry(dict):
    """{name: entry}, plus aliases that resolve to a name (RUM's and the capstone's spellings)."""

    def __init__(self, flag):
        super().__init__()
        self.flag = flag
        self.aliases = {}

    def add(self, name, entry, aliases=()):
        for key in (name, *aliases):
            if key in self or key in self.aliases:
                raise ValueError(f"{self.flag} {key!r} is registered twice")
        self[name] = entry
        self.aliases.update(dict.fromkeys(aliases, name))
        return entry

    def register(self, name, *aliases):
        """Decorator form: `@REGISTRY.register("name")` adds the decorated object."""
        def deco(entry):
            self.add(name, entry, aliases)
            return entry
        return deco

    def canonical(self, name):
        """The registered name for `name` or one of its aliases; unknown names are a UserError."""
        name = self.aliases.get(name, name)
        if name not in self:
            known = ", ".join(sorted({*self, *self.aliases}))
            raise UserError(f"unknown {self.flag} {name!r}; choose one of {known}")
        return name

    def lookup(self, name):
        return self[self.canonical(name)]


def import_all(package, path):
    """Import every module of a package (`import_all(__name__, __path__)` in its __init__), so each
    module's @register runs: adding a method, data set or model is adding one file."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
