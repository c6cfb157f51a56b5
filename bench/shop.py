"""A seeded shop with Online Retail's shape at any multiple of its size, written in its CSV format.

At 1×: 4,000 customers, 4,000 products and about 506,000 purchase lines over a year (Online Retail
holds 406,829 lines with a customer, 4,372 customers, 3,684 products; 10× is the 5.06 M lines of
the scale measurements). What it reproduces, because serving and training costs depend on it:
- products' popularity is skewed so that the top 10 % of products hold about 44 % of the lines;
- about 27 % of the lines repeat a product the customer bought before (a Pólya urn: each line
  after a customer's first repeats one of their earlier lines with a fixed probability);
- products fall into co-purchase groups, and each customer draws most new products from a group of
  their own;
- customers join through the year (a third in its first month), order at their own Gamma-distributed
  rate with a seasonal peak in November, and leave after an exponential lifetime;
- orders hold a geometric number of lines (mean 23); quantities and prices are drawn like the file's.
The shape figures are measured on what is generated (``shape``), not assumed.
Run: ``python -m bench.shop --multiple 10 --out shop-10x.csv``.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

CUSTOMERS, PRODUCTS = 4000, 4000  # at 1×
LINES_PER_ORDER = 23.0
ORDERS_PER_YEAR = 9.5  # the mean customer's rate while active
OWN_GROUP = 0.3  # chance that a new product comes from the customer's own group
GROUP_SIZE = 100
TOP_SHARE = 0.44  # lines held by the top 10 % of products
REPEAT_SHARE = 0.27  # lines that repeat a customer–product pair
START = datetime(2010, 12, 1, 8)
DAYS = 373.0
PEAK = 350.0  # mid-November of the second year, the busiest weeks
QUANTITIES = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24, 48])
QUANTITY_P = np.array([0.22, 0.16, 0.08, 0.07, 0.12, 0.04, 0.05, 0.17, 0.06, 0.03])
HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
COUNTRIES = ["United Kingdom"] * 9 + ["Germany", "France", "EIRE", "Spain", "Netherlands"]


@dataclass(frozen=True)
class Shop:
    customer: I64  # per line, lines in time order
    product: I64
    order: I64  # order number, increasing with time
    day: F64  # days after START
    quantity: I64
    price: F64  # each product's unit price, per line
    country: I64  # per customer: index into COUNTRIES


def _zipf_exponent(n: int, top_share: float) -> float:
    """The exponent s of weights 1/rank^s under which the top 10 % of n products hold top_share."""
    ranks = np.arange(1, n + 1, dtype=np.float64)

    def gap(s: float) -> float:
        w = ranks**-s
        return float(w[: max(n // 10, 1)].sum() / w.sum()) - top_share

    return float(brentq(gap, 0.0, 3.0))


def _resolve(source: I64) -> I64:
    """Follow each line's pointer to an earlier line until a line that points at itself."""
    while True:
        nxt = source[source]
        if np.array_equal(nxt, source):
            return source
        source = nxt


def generate(multiple: float, seed: int = 7) -> Shop:
    """The shop at ``multiple`` × 1×'s size. Some new products are already in the customer's history
    by chance, more so in a small catalogue: the urn's probability is set by two corrections so that
    the share of repeated pairs is REPEAT_SHARE at any multiple."""
    repeat = 0.08
    for _ in range(2):
        shop = _draw(multiple, seed, repeat)
        measured = shape(shop)["repeat_share"]
        repeat = min(max(repeat + (REPEAT_SHARE - measured) / (1.0 - measured), 0.0), 0.95)
    return _draw(multiple, seed, repeat)


def _draw(multiple: float, seed: int, repeat_p: float) -> Shop:
    rng = np.random.default_rng(seed)
    n_customers, n_products = round(CUSTOMERS * multiple), round(PRODUCTS * multiple)
    # Customers: when they join, how long they stay, how often they order.
    joined = np.where(
        rng.random(n_customers) < 1 / 3, rng.uniform(0, 30, n_customers), rng.uniform(0, DAYS, n_customers)
    )
    left = np.minimum(joined + rng.exponential(365.0, n_customers), DAYS)
    rate = rng.gamma(0.8, ORDERS_PER_YEAR / 0.8, n_customers) / 365.0
    orders = 1 + rng.poisson(rate * (left - joined))
    order_customer = np.repeat(np.arange(n_customers), orders)
    # Order times: the first when they join, the rest over their stay, November's weight doubled.
    first = np.r_[0, np.cumsum(orders)[:-1]]
    span = (left - joined)[order_customer]
    when = rng.random(len(order_customer))
    season = 1.0 + (np.abs(joined[order_customer] + when * span - PEAK) < 30)
    when = np.where(rng.random(len(when)) * 2.0 < season, when, rng.random(len(when)))
    day = joined[order_customer] + when * span
    day[first] = joined
    by_time = np.lexsort((day, order_customer))
    order_customer, day = order_customer[by_time], day[by_time]
    # Lines: each order's count, then products drawn per customer in time order.
    per_order = rng.geometric(1.0 / LINES_PER_ORDER, len(day))
    line_order = np.repeat(np.arange(len(day)), per_order)
    customer = order_customer[line_order]
    start_of = np.r_[0, np.flatnonzero(np.diff(customer)) + 1]
    starts = np.repeat(start_of, np.diff(np.r_[start_of, len(customer)]))
    position = np.arange(len(customer)) - starts  # index of the line among its customer's lines
    repeat = (position > 0) & (rng.random(len(customer)) < repeat_p)
    source = np.arange(len(customer))
    source[repeat] = starts[repeat] + (rng.random(int(repeat.sum())) * position[repeat]).astype(np.int64)
    source = _resolve(source)
    # New products: the customer's own group, or the whole catalogue, each by popularity.
    weight = np.arange(1, n_products + 1, dtype=np.float64) ** -_zipf_exponent(n_products, TOP_SHARE)
    popular = rng.permutation(n_products)  # popular[r] is the product of rank r
    group_of = rng.permutation(n_products) // GROUP_SIZE  # by product code
    n_groups = int(group_of.max()) + 1
    by_group = np.argsort(group_of[popular], kind="stable")  # ranks sorted by group
    cum = np.cumsum(weight[by_group])
    edges = np.r_[
        0.0, cum[np.searchsorted(group_of[popular][by_group], np.arange(n_groups), side="right") - 1]
    ]
    own = rng.integers(0, n_groups, n_customers)[customer]
    u = rng.random(len(customer))
    in_group = edges[own] + u * (edges[own + 1] - edges[own])
    from_group = popular[by_group[np.minimum(np.searchsorted(cum, in_group), len(cum) - 1)]]
    anywhere = popular[np.minimum(np.searchsorted(np.cumsum(weight), u * weight.sum()), n_products - 1)]
    fresh = np.where(rng.random(len(customer)) < OWN_GROUP, from_group, anywhere)
    product = fresh[source]
    price = np.round(np.exp(rng.normal(np.log(2.5), 0.8, n_products)), 2).clip(0.05)
    # Orders numbered, and lines listed, in time order (as the file's are).
    by_time = np.argsort(day, kind="stable")
    number = np.empty(len(day), dtype=np.int64)
    number[by_time] = np.arange(len(day))
    lines = np.argsort(number[line_order], kind="stable")
    return Shop(
        customer=customer[lines].astype(np.int64),
        product=product[lines].astype(np.int64),
        order=number[line_order][lines],
        day=day[line_order][lines],
        quantity=rng.choice(QUANTITIES, len(customer), p=QUANTITY_P / QUANTITY_P.sum()),
        price=price[product][lines],
        country=rng.integers(0, len(COUNTRIES), n_customers),
    )


def shape(shop: Shop) -> dict[str, float]:
    """What the generated lines look like, in the figures that the scale measurements quote."""
    lines = np.bincount(shop.product)
    top = np.sort(lines)[::-1][: max(len(lines) // 10, 1)].sum() / len(shop.product)
    pair = shop.customer * (int(shop.product.max()) + 1) + shop.product
    _, first = np.unique(pair, return_index=True)
    return {
        "lines": float(len(shop.product)),
        "customers": float(len(np.unique(shop.customer))),
        "products": float(int(np.count_nonzero(lines))),
        "orders": float(int(shop.order.max()) + 1),
        "top_10pct_share": float(top),
        "repeat_share": 1.0 - len(first) / len(pair),
    }


def write_csv(shop: Shop, path: Path) -> None:
    """The lines in Online Retail's columns."""
    stamps = [
        (START + timedelta(days=float(d))).strftime("%Y-%m-%d %H:%M:00")
        for d in shop.day[np.r_[0, np.flatnonzero(np.diff(shop.order)) + 1]].tolist()
    ]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        order_index = np.cumsum(np.r_[0, np.diff(shop.order) != 0])
        for order, index, product, quantity, price, customer in zip(
            shop.order.tolist(),
            order_index.tolist(),
            shop.product.tolist(),
            shop.quantity.tolist(),
            shop.price.tolist(),
            shop.customer.tolist(),
            strict=True,
        ):
            out.writerow(
                (
                    500000 + order,
                    f"P{product:06d}",
                    f"PRODUCT {product}",
                    quantity,
                    stamps[index],
                    price,
                    f"{10000 + customer}.0",
                    COUNTRIES[shop.country[customer]],
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiple", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    shop = generate(args.multiple, args.seed)
    write_csv(shop, args.out)
    print({k: round(v, 3) for k, v in shape(shop).items()})


if __name__ == "__main__":
    main()
