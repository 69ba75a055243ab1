"""Throttling of failed sign-ins, per account and per address, in Redis.

Built on the ``limits`` library (the engine under Flask-Limiter) with one
limiter per app: Flask-Limiter keeps a single storage per extension object, so
two apps in one process would share it. Limits are read from the config at each
check (``BPO_LOGIN_LIMIT_ACCOUNT``, ``BPO_LOGIN_LIMIT_ADDRESS``).
"""

from dataclasses import dataclass

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bpo.core.errors import AppError


class TooManyAttempts(AppError):
    status = 429
    code = "rate_limited"


def storage_uri(redis_url: str) -> str:
    """``limits`` spells Redis unix sockets ``redis+unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


@dataclass(frozen=True)
class Keys:
    account: str
    address: str


class LoginThrottle:
    def __init__(self, redis_url: str, client: redis.Redis) -> None:
        storage = RedisStorage(
            storage_uri(redis_url), connection_pool=client.connection_pool, key_prefix="bpo-login"
        )
        self._limiter = MovingWindowRateLimiter(storage)

    def _pairs(self, keys: Keys, account: str, address: str) -> list[tuple[RateLimitItem, str]]:
        return [(parse(account), keys.account), (parse(address), keys.address)]

    def check(self, keys: Keys, *, account: str, address: str) -> None:
        """Raise :class:`TooManyAttempts` if either limit is used up."""
        for item, key in self._pairs(keys, account, address):
            if not self._limiter.test(item, key):
                raise TooManyAttempts(
                    "Too many failed sign-in attempts. Wait a few minutes and try again."
                )

    def failed(self, keys: Keys, *, account: str, address: str) -> None:
        """Count one failed attempt against both limits."""
        for item, key in self._pairs(keys, account, address):
            self._limiter.hit(item, key)
