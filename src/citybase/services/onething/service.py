"""The one-thing service (高效办成一件事): the catalog of items, the one form filled from what
the city knows, applications handed to the units as hub cases, offers made unasked.

This is the face other domains import; the behaviour lives one module per verb family:
``catalog_items`` (the item catalog: load, edit, checks, stages), ``forms`` (applicants and the
one form pre-filled under consent), ``applications`` (submit, matters as hub cases, follow,
supplement) and ``offers`` (免申即办). Every value pre-filled into a form is read through the one
traced read (``data/sharing``) under the applicant's consent (申请人授权).
"""

from __future__ import annotations

from citybase.services.onething.applications import (
    NUMBER_PREFIX,
    PHONE_FIELDS,
    applicant_phone,
    application_for_system,
    application_of_case,
    enterprise_applications,
    follows_step,
    get_application,
    my_applications,
    on_case_changed,
    submit,
    supplement,
    unit_applications,
)
from citybase.services.onething.catalog_items import (
    WORK,
    check_spec,
    find_cycle,
    get_item,
    item_yaml,
    list_items,
    load_items,
    parse_items,
    save_item,
    stages,
)
from citybase.services.onething.forms import (
    PREFILL_ACTION,
    applicant_identity,
    applicant_user_of,
    build_form,
    consent_basis,
    register_applicant,
    tie_applicant,
)
from citybase.services.onething.offers import decline_offer, make_offers, offers_of

__all__ = [
    "NUMBER_PREFIX",
    "PHONE_FIELDS",
    "PREFILL_ACTION",
    "WORK",
    "applicant_identity",
    "applicant_phone",
    "applicant_user_of",
    "application_for_system",
    "application_of_case",
    "build_form",
    "check_spec",
    "consent_basis",
    "decline_offer",
    "enterprise_applications",
    "find_cycle",
    "follows_step",
    "get_application",
    "get_item",
    "item_yaml",
    "list_items",
    "load_items",
    "make_offers",
    "my_applications",
    "offers_of",
    "on_case_changed",
    "parse_items",
    "register_applicant",
    "save_item",
    "stages",
    "submit",
    "supplement",
    "tie_applicant",
    "unit_applications",
]
