"""`field__any=values`: `field = ANY(%s)` with the values as one array parameter.

For the sync's lists of hundreds to thousands of ids and names. `__in` sends one placeholder
per value, and psycopg's client-side binding splits the query at each one and quotes the values
one by one in Python: 65 ms instead of 21 ms for a query by 5,000 ids.
"""

from django.db.models import Field, ForeignObject, Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection) for value in self.rhs]
        return f"{lhs} = ANY(%s)", [*lhs_params, values]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # relations keep a lookup registry of their own
