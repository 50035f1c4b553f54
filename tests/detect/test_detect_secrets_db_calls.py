"""Passwords in database and directory connection calls, found by the position their
documentation gives the password argument (``secrets.calls``): positives per API, near
misses (variables, empty or example passwords, other arguments). Values are made up.
"""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.secrets import secret_patterns

THRESHOLD = 0.5
PASSWORD = "Rk8!vQz2Lm7w"


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def found(text: str) -> set[tuple[str, str]]:
    return {(h.data_class, h.value) for h in engine().scan(text) if h.score >= THRESHOLD}


POSITIVES = [
    pytest.param(f'mysql_connect("db.internal", "shop", "{PASSWORD}");', "secret.generic_password",
                 id="php-mysql-connect"),
    pytest.param(f"mysqli_connect('db.internal', 'shop', '{PASSWORD}', 'orders')",
                 "secret.generic_password", id="php-mysqli-connect"),
    pytest.param(f'$db = new mysqli("db.internal", "shop", "{PASSWORD}", "orders");',
                 "secret.generic_password", id="php-new-mysqli"),
    pytest.param(f"$pdo = new PDO('mysql:host=db;dbname=orders', 'shop', '{PASSWORD}');",
                 "secret.generic_password", id="php-pdo"),
    pytest.param(f'$c = oci_connect("shop", "{PASSWORD}", "db.internal/XE");',
                 "secret.generic_password", id="php-oci-connect"),
    pytest.param(f'my $dbh = DBI->connect("dbi:Pg:dbname=orders", "shop", "{PASSWORD}");',
                 "secret.generic_password", id="perl-dbi"),
    pytest.param(f'dbh = DBI.connect("DBI:Mysql:orders:db", "shop", "{PASSWORD}")',
                 "secret.generic_password", id="ruby-dbi"),
    pytest.param(f'DriverManager.getConnection("jdbc:postgresql://db/orders", "shop", '
                 f'"{PASSWORD}");', "secret.generic_password", id="jdbc"),
    pytest.param(f'const db = new Sequelize("orders", "shop", "{PASSWORD}", {{ host: "db" }});',
                 "secret.generic_password", id="sequelize"),
    pytest.param(f'conn.simple_bind_s("cn=reader,dc=corp,dc=test", "{PASSWORD}")',
                 "secret.generic_password", id="ldap-simple-bind"),
    pytest.param(f'db, err := sql.Open("mysql", "shop:{PASSWORD}@tcp(db:3306)/orders")',
                 "secret.connection_string", id="go-mysql-dsn"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "data_class"), POSITIVES)
def test_connection_call_passwords_are_found(text: str, data_class: str) -> None:
    assert (data_class, PASSWORD) in found(text)


NEAR_MISSES = [
    pytest.param("mysqli_connect($host, $user, $password, $db)", id="variables"),
    pytest.param('mysqli_connect("localhost", "root", "")', id="empty-password"),
    pytest.param('mysqli_connect("localhost", "root", $pw)', id="password-variable"),
    pytest.param('new PDO($dsn, $user, $pass);', id="pdo-variables"),
    pytest.param('DriverManager.getConnection("jdbc:h2:mem:test", "sa", "password")',
                 id="argument-named-password"),
    pytest.param('sql.Open("mysql", "user:password@tcp(127.0.0.1:3306)/hello")',
                 id="go-docs-example"),
    pytest.param('sql.Open("mysql", "root:@tcp(localhost:3306)/test")', id="go-empty-password"),
    pytest.param('sql.Open("mysql", "app:${DB_PASS}@tcp(db)/orders")', id="go-template"),
    pytest.param('getConnection("jdbc:postgresql://db/orders")', id="url-only"),
    pytest.param('new Sequelize("sqlite::memory:")', id="sequelize-memory"),
]  # fmt: skip


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_connection_call_near_misses_are_not_found(text: str) -> None:
    assert found(text) == set()
