"""Which product a product-scoped route acts on, found from its path.

``product_id`` names the product itself; another id names an object of one product (``job_id``:
the job's product). Each domain provides the lookup for its ids (``jobs.service.product_of_job``
...); ``backend.main`` names them in one ``ProductResolvers`` and checks, when the app is built,
that every route behind the product-access check has a path parameter it can resolve. An admin
route keyed by an unknown id therefore fails ``create_app``, never a request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlmodel import Session
from starlette.routing import BaseRoute

from backend.core.errors import NotFound
from backend.core.openapi import is_id

PRODUCT_PARAM = "product_id"

# Called as resolver(session=..., <param>=<id>): the product id of the object, or NotFound.
ProductOf = Callable[..., int]


@dataclass(frozen=True)
class ProductResolvers:
    """The product-scoped path parameters besides ``product_id``, each with its lookup."""

    by_param: Mapping[str, ProductOf]

    def params(self) -> list[str]:
        """Every path parameter that leads to a product, ``product_id`` first."""
        return [PRODUCT_PARAM, *sorted(self.by_param)]

    def product_id(self, session: Session, path_params: Mapping[str, Any]) -> int:
        """The product the path names (NotFound for an id that is not a number or not found)."""
        for name in self.params():
            if name in path_params:
                try:
                    value = int(path_params[name])
                except ValueError:
                    value = 0
                if not is_id(value):  # never sent to the database (integer out of range)
                    raise NotFound(f"{name} '{path_params[name]}' not found")
                if name == PRODUCT_PARAM:
                    return value
                return self.by_param[name](session=session, **{name: value})
        # check_routes makes this unreachable for the app's own routes
        raise LookupError(f"no product-scoped path parameter among {sorted(path_params)}")

    def check_routes(
        self, routes: Sequence[BaseRoute], guards: Iterable[Callable[..., Any]]
    ) -> None:
        """RuntimeError listing each route that depends on one of ``guards`` (the product-access
        checks) but has no path parameter among ``params()``."""
        calls = set(guards)
        known = set(self.params())
        bad = [
            f"{' '.join(sorted(route.methods or []))} {route.path}"
            # each route as mounted: full path, with the dependencies of the routers above it
            for route in iter_route_contexts(routes)
            if isinstance(route.original_route, APIRoute)
            and _depends_on(route.dependant, calls)
            and not known & set(route.param_convertors)
        ]
        if bad:
            raise RuntimeError(
                "routes behind the product-access check have no product-scoped path parameter "
                f"(one of {', '.join(self.params())}; register a resolver in backend.main): "
                + "; ".join(bad)
            )


def _depends_on(dependant: Dependant, calls: set[Callable[..., Any]]) -> bool:
    return any(sub.call in calls or _depends_on(sub, calls) for sub in dependant.dependencies)
