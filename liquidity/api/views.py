"""Liquidity API: the pool (balances against their thresholds, recent movements and rebalances), and rebalancing."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.roles import HasRole
from liquidity.choices import RebalanceTrigger
from liquidity.models import PoolMovement, Rebalance
from liquidity.selectors import BalanceRow, pool_get, pool_overview
from liquidity.services import PoolNotFound, pool_rebalance


def _decimal(value) -> str | None:
    return None if value is None else format(value, "f")


def balance_json(row: BalanceRow) -> dict:
    return {
        "currency": row.currency,
        "available": _decimal(row.available),
        "minimum": _decimal(row.minimum),
        "target": _decimal(row.target),
        "maximum": _decimal(row.maximum),
        "deviation_from_target": _decimal(row.deviation),
        "deviation_pct": _decimal(row.deviation_pct),
        "state": row.state,
        "usd_rate": _decimal(row.usd_rate),
        "available_usd": _decimal(row.available_usd),
        "target_usd": _decimal(row.target_usd),
    }


def movement_json(movement: PoolMovement) -> dict:
    return {
        "id": movement.pk,
        "currency": movement.currency_id,
        "amount": _decimal(movement.amount),
        "balance_after": _decimal(movement.balance_after),
        "kind": movement.kind,
        "reference": movement.reference,
        "memo": movement.memo,
        "created_at": movement.created_at,
    }


def rebalance_json(rebalance: Rebalance) -> dict:
    return {
        "id": rebalance.pk,
        "pool_id": rebalance.pool_id,
        "trigger": rebalance.trigger,
        "status": rebalance.status,
        "run_by": rebalance.run_by.get_username() if rebalance.run_by_id else None,
        "created_at": rebalance.created_at,
        "moves": rebalance.moves,
        "beyond_threshold": rebalance.beyond_threshold,
        "threshold": _decimal(rebalance.threshold),
        "fx_spread": _decimal(rebalance.fx_spread),
        "rates_as_of": rebalance.rates_as_of,
        "value_before_usd": _decimal(rebalance.value_before_usd),
        "value_after_usd": _decimal(rebalance.value_after_usd),
        "fx_cost_usd": _decimal(rebalance.fx_cost_usd),
        "rounding_usd": _decimal(rebalance.rounding_usd),
    }


def _pool_id(raw, field: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not str(raw).isdigit() or int(raw) < 1:
        raise ValidationError({field: [f"{raw!r} is not a pool id."]})
    return int(raw)


class PoolView(APIView):
    capability = "liquidity.view"
    permission_classes = [HasRole]

    @extend_schema(
        parameters=[OpenApiParameter("pool", OpenApiTypes.INT, description="Pool id (default: the primary pool)")],
        responses={200: OpenApiTypes.OBJECT},
        summary="The liquidity pool: balances, thresholds and deviation from target; last movements and rebalances",
    )
    def get(self, request):
        pool_id = _pool_id(request.query_params.get("pool"), "pool")
        pool = pool_get(pool_id)
        if pool is None:
            raise PoolNotFound(f"No liquidity pool {pool_id}." if pool_id else "No liquidity pool exists.")
        overview = pool_overview(pool)
        return Response(
            {
                "pool": {
                    "id": pool.pk,
                    "name": pool.name,
                    "auto_rebalance": pool.auto_rebalance,
                    "rebalance_threshold": _decimal(pool.rebalance_threshold),
                },
                "rates_as_of": overview.rates_as_of,
                "total_usd": _decimal(overview.total_usd),
                "balances": [balance_json(row) for row in overview.rows],
                "movements": [movement_json(movement) for movement in overview.movements],
                "rebalances": [rebalance_json(rebalance) for rebalance in overview.rebalances],
            }
        )


class RebalanceView(APIView):
    capability = "liquidity.operate"
    permission_classes = [HasRole]

    @extend_schema(
        request=inline_serializer(
            "RebalanceRequest", {"pool_id": serializers.IntegerField(required=False, min_value=1)}
        ),
        responses={201: OpenApiTypes.OBJECT},
        summary="Rebalance the pool now at the current rates; the result is recorded, a no-op included",
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["The body must be a JSON object (or empty)."]})
        unknown = sorted(set(body) - {"pool_id"})
        if unknown:
            raise ValidationError({name: ["Unknown field."] for name in unknown})
        rebalance = pool_rebalance(
            pool_id=_pool_id(body.get("pool_id"), "pool_id"), trigger=RebalanceTrigger.OPERATOR, actor=request.user
        )
        return Response(rebalance_json(rebalance), status=status.HTTP_201_CREATED)
