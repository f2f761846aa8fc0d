"""The NGSI-LD context store (城市实体上下文库): the city's things as NGSI-LD entities at
``/ngsi-ld/v1/``, their names resolved by a JSON-LD processor against contexts kept here; queries
(``query``: the q language), subscriptions and their notifications (``subscriptions``,
``notify``) and the history of every attribute (``temporal``)."""
