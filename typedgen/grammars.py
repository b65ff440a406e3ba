"""Ready-made Lark grammars for :func:`typedgen.generate.cfg` and :func:`typedgen.compile_grammar`.

Each is a plain string of Lark text, so it can be printed, extended (``%import``-free, so it
can be pasted into a larger grammar) or passed as is::

    typedgen.generate.cfg(model, typedgen.grammars.json)

* :data:`json`: any JSON value (RFC 8259), whitespace allowed between tokens.
* :data:`arithmetic`: integer and decimal arithmetic with ``+ - * /``, unary minus and
  parentheses; spaces and tabs between tokens.
* :data:`sql_select`: one SQL ``SELECT`` query (columns or ``*``, ``FROM`` with joins,
  ``WHERE``, ``GROUP BY``, ``HAVING``, ``ORDER BY``, ``LIMIT``); keywords in any case.
"""

from __future__ import annotations

__all__ = ["arithmetic", "json", "sql_select"]

json = r"""
?start: value
?value: object | array | STRING | NUMBER | "true" | "false" | "null"
object: "{" [pair ("," pair)*] "}"
pair: STRING ":" value
array: "[" [value ("," value)*] "]"
STRING: /"(?:[^"\\\x00-\x1f]|\\["\\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/
NUMBER: /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/
WS: /[ \t\n\r]+/
%ignore WS
"""
"""Any JSON value (RFC 8259)."""

arithmetic = r"""
?start: sum
?sum: product | sum "+" product | sum "-" product
?product: atom | product "*" atom | product "/" atom
?atom: NUMBER | "-" atom | "(" sum ")"
NUMBER: /[0-9]+(?:\.[0-9]+)?/
WS: /[ \t]+/
%ignore WS
"""
"""Arithmetic expressions over decimal numbers."""

sql_select = r"""
start: select ";"?
select: "SELECT"i ["DISTINCT"i] columns "FROM"i table join* where? group? having? order? limit?
columns: "*" | column_item ("," column_item)*
column_item: expr ["AS"i NAME]
table: NAME ["AS"i? NAME]
join: ["INNER"i | "LEFT"i ["OUTER"i] | "RIGHT"i ["OUTER"i]] "JOIN"i table "ON"i condition
where: "WHERE"i condition
group: "GROUP"i "BY"i expr ("," expr)*
having: "HAVING"i condition
order: "ORDER"i "BY"i order_item ("," order_item)*
order_item: expr ["ASC"i | "DESC"i]
limit: "LIMIT"i INT
?condition: conjunction ("OR"i conjunction)*
?conjunction: negation ("AND"i negation)*
?negation: "NOT"i negation | predicate
?predicate: expr COMPARE expr
    | expr "IS"i ["NOT"i] "NULL"i
    | expr ["NOT"i] "IN"i "(" expr ("," expr)* ")"
    | expr ["NOT"i] "LIKE"i STRING
    | expr "BETWEEN"i expr "AND"i expr
    | "(" condition ")"
?expr: term (ADD term)*
?term: factor (MUL factor)*
?factor: column | NUMBER | STRING | "NULL"i | call | "(" expr ")"
call: NAME "(" ["*" | expr ("," expr)*] ")"
column: NAME ["." NAME]
COMPARE: "<=" | ">=" | "<>" | "!=" | "=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/" | "%"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(?:[^'\n]|'')*'/
NUMBER: /[0-9]+(?:\.[0-9]+)?/
INT: /[0-9]+/
WS: /[ \t\n]+/
%ignore WS
"""
"""One SQL ``SELECT`` query."""
