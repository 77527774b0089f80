"""Usage payloads -> typed frames, without sockets: the vendor's examples, amounts sent as text, shapes."""

import pandas as pd
import pytest

from cloudmc_frames import catalog
from cloudmc_frames.errors import ConfigError
from cloudmc_frames.frames import build_frame, to_amount
from cloudmc_frames.usage import (
    commitment_rows,
    customer_rows,
    pricing_rows,
    resolve_metric,
    top_organizations,
)

# The vendor's example payloads (CloudMC API docs), copied: tests never read /work/shared.
SUMMARY = {"organizationId": "52fd201e-aa82-4a27-86b3-ea9650a7fb1e",
           "serviceConnectionId": "beeba736-0451-49b0-8020-8b93ed5abb35",
           "serviceConnectionPricingId": "e37cc44a-47b6-4a26-81f5-1dbf85433e36", "utilityCost": 0.66,
           "utilityUsage": 5.49999878, "startDate": "2017-05-01T00:00:00.000Z",
           "endDate": "2017-05-01T01:00:00.000Z", "usageType": "1", "secondaryType": "RAM"}
SERVICE_USAGE = {"id": "a855e912f682b398379eefd5bbeffa2e:805", "usageType": "memory_type",
                 "usage": 143.99833333333333, "unit": "gibibyte-hour",
                 "connectionId": "081ffa1f-1531-4dd5-a7e2-070e560409ce", "connectionName": "Edge Services",
                 "organizationId": "ca785487-5e22-4bac-ab01-187260b0d0cb", "organizationName": "Cox",
                 "environmentId": "207ed06a-5b20-4d79-a7eb-d9ac4878519b",
                 "environmentName": "jdias-test-jason", "startDate": "2022-01-01T00:00:00Z",
                 "endDate": "2022-01-02T00:00:00Z",
                 "fields": {"PoP": "Phoenix", "type": "Container", "region": "NA"}, "metricType": "GAUGE",
                 "metadata": {"serviceCode": "edge-cloud-beta",
                              "stackSlug": "jdias-test-jaso-7vhhr3lplg-env"}}
COMMITMENTS = [
    {"committedProducts": [{"createdAt": "2022-06-17T18:48:25Z",
                            "product": {"id": "bcd82514-d539-4d66-aaf4-b24a95ebe1cd", "sku": "CVM-1M02"},
                            "committedAmount": 1000.0, "id": "52a54cde-0e5d-4168-9827-5967ded6095e",
                            "updatedAt": "2022-06-17T18:48:25Z"}],
     "endDate": "2023-01-01T00:00:00Z", "pricingMethod": "FIXED_PRICE", "type": "RESOURCE",
     "fixedPrice": 500.0,
     "fixedPriceTaxCode": {"code": "SI086690", "description": "IT Services"},
     "createdAt": "2022-06-17T18:48:07Z",
     "organization": {"name": "SleepyCo", "id": "42a54cde-0e5d-4168-9827-5967ded6095e"},
     "reseller": {"name": "SleepyParentCo", "id": "55a89cde-0e5d-4168-9827-5967ded6095e"},
     "name": "fixed price commitment", "id": "52a54cde-0e5d-4168-9827-5967ded6095e", "terminated": False,
     "startDate": "2022-01-01T00:00:00Z", "updatedAt": "2022-06-17T18:48:07Z", "status": "IN_PROGRESS"},
    {"committedProducts": [{"createdAt": "2022-06-17T18:49:50Z",
                            "product": {"id": "bcd82514-d539-4d66-aaf4-b24a95ebe1cd", "sku": "CVM-1M02"},
                            "fixedRateReferencePrice": 10.0, "discountAmount": 0.1, "committedAmount": 1000.0,
                            "id": "62a54cde-0e5d-4168-9827-5967ded6095e",
                            "updatedAt": "2022-06-17T18:49:50Z"}],
     "endDate": "2023-01-01T00:00:00Z", "pricingMethod": "UTILITY_DISCOUNT", "rateType": "FIXED_RATE",
     "type": "RESOURCE", "createdAt": "2022-06-17T18:49:38Z",
     "organization": {"name": "SleepyCo", "id": "42a54cde-0e5d-4168-9827-5967ded6095e"},
     "reseller": {"name": "SleepyParentCo", "id": "55a89cde-0e5d-4168-9827-5967ded6095e"},
     "name": "fixed rate commitment", "id": "62a54cde-0e5d-4168-9827-5967ded6095e", "terminated": False,
     "startDate": "2022-01-01T00:00:00Z", "updatedAt": "2022-06-17T18:49:38Z", "status": "IN_PROGRESS"},
]
PRICING = {"currencies": [{"currency": "CAD", "total": "432.00", "categories": [
    {"name": {"en": "Networking", "fr": "Networking"}, "products": [
        {"sku": "PUBLIC_IP", "name": {"en": "Public IP", "fr": "Public IP"}, "cost": "432.00",
         "usage": "465.0000", "period": "HOUR", "unit": {"unit": "HOUR", "name": {}},
         "pricingTiers": [{"usage": "300.0000", "price": "1.00", "cost": "300.00"},
                          {"usage": "165.0000", "price": "0.80", "cost": "132.00"}]}],
     "subTotal": "432.00"}]}],
    "startDate": "2021-03-30T00:00:00Z", "endDate": "2021-04-01T23:59:59.999Z", "reportGenerated": True}
CUSTOMERS = {"organizations": [{"id": "4b0c91a8-522a-4121-ac63-f9ae33be4eda", "name": "JasonOrg",
                                "total": "5244.00",
                                "currency": "CAD", "orgDeleted": "false",
                                "categories": [{"name": {"en": "Networking", "fr": "Networking"},
                                                "subTotal": "684.00"},
                                               {"name": {"en": "Disk", "fr": "Disk"}, "subTotal": "4560.00"}],
                                "appliedPricing": {"id": "0495ac17-0b75-4583-af6c-c69d0d2e7289",
                                                   "name": {"en": "Standard Pricing",
                                                            "fr": "Standard Pricing"}}}],
             "reportGenerated": True, "startDate": "2021-04-01T00:00:00Z",
             "endDate": "2021-04-07T23:59:59.999Z"}
CONTEXT = {"organization_id": "o1", "organization_name": "Acme", "organization_path": "acme"}


def kinds(frame):
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def test_usage_summary_example_is_typed():
    frame = build_frame("usage_summary", [(CONTEXT, [SUMMARY])])
    schema = catalog.USAGE_SCHEMAS["usage_summary"]
    assert list(frame.columns[:len(schema)]) == list(schema)
    assert frame.loc[0, "start_date"] == pd.Timestamp("2017-05-01", tz="UTC")
    assert frame.loc[0, "end_date"] - frame.loc[0, "start_date"] == pd.Timedelta(hours=1)
    assert (frame.loc[0, "utility_cost"], frame.loc[0, "secondary_type"]) == (0.66, "RAM")
    assert kinds(frame)["utility_usage"] == "Float64" and kinds(frame)["start_date"] == "datetime64[ns, UTC]"


def test_an_empty_answer_has_every_documented_column_with_its_dtype():
    for name, schema in catalog.USAGE_SCHEMAS.items():
        context = CONTEXT if "organization_id" in schema else {}
        empty, full = build_frame(name, []), build_frame(name, [(context, [{}])])
        assert list(empty.columns) == list(schema), name
        assert kinds(empty) == kinds(full), name


@pytest.mark.parametrize("sent, expected", [
    (["0.66", "1,234.50", "", None, 3, "  12 "], [0.66, 1234.5, None, None, 3.0, 12.0]),
    (["1,000,000", "-2,500.5"], [1_000_000.0, -2500.5]),
], ids=["mixed", "thousands"])
def test_amounts_sent_as_text_with_commas_or_empty(sent, expected):
    frame = build_frame("usage_summary", [(CONTEXT, [{"utilityCost": v} for v in sent])])
    assert str(frame["utility_cost"].dtype) == "Float64"
    assert [None if pd.isna(v) else v for v in frame["utility_cost"]] == expected


def test_a_decimal_comma_is_not_mistaken_for_thousands():
    with pytest.raises(ValueError):
        to_amount("1,5")
    frame = build_frame("usage_summary", [(CONTEXT, [{"utilityCost": "1,5"}, {"utilityCost": "2"}])])
    assert str(frame["utility_cost"].dtype) == "Float64" and frame["utility_cost"].tolist()[1] == 2.0
    assert pd.isna(frame["utility_cost"].iloc[0])
    assert frame["utility_cost_raw"].tolist()[0] == "1,5"  # kept beside, never silently changed


def test_service_usage_example_keeps_unit_and_flattens_fields_and_metadata():
    frame = build_frame("usage_records", [(CONTEXT, [SERVICE_USAGE])])
    assert frame.loc[0, "unit"] == "gibibyte-hour" and frame.loc[0, "usage"] == pytest.approx(143.9983333)
    assert {"fields_po_p", "fields_type", "fields_region"} <= set(frame.columns)
    assert frame.loc[0, "metadata_service_code"] == "edge-cloud-beta"
    assert frame.loc[0, "metadata_stack_slug"] == "jdias-test-jaso-7vhhr3lplg-env"  # unknown: kept


def test_commitment_example_gives_one_row_per_committed_product():
    rows = [r for c in COMMITMENTS for r in commitment_rows(c)]
    frame = build_frame("commitments", [(CONTEXT, rows)], rename={"product_sku": "sku"})
    assert frame["commitment_name"].tolist() == ["fixed price commitment", "fixed rate commitment"]
    assert frame["sku"].tolist() == ["CVM-1M02", "CVM-1M02"]
    assert frame["committed_amount"].tolist() == [1000.0, 1000.0]
    assert frame["fixed_price"].isna().tolist() == [False, True]
    assert frame["discount_amount"].isna().tolist() == [True, False]
    assert frame.loc[1, "rate_type"] == "FIXED_RATE"
    assert frame.loc[0, "fixed_price_tax_code_code"] == "SI086690"
    assert frame.loc[0, "product_id"] == "bcd82514-d539-4d66-aaf4-b24a95ebe1cd"
    assert frame.loc[0, "committed_product_id"] == "52a54cde-0e5d-4168-9827-5967ded6095e"
    assert frame["organization_id"].tolist() == ["o1", "o1"]  # the organization read, not the nested one


def test_a_commitment_without_products_keeps_one_row():
    rows = commitment_rows({"id": "c1", "name": "empty", "committedProducts": []})
    frame = build_frame("commitments", [(CONTEXT, rows)], rename={"product_sku": "sku"})
    assert len(frame) == 1 and frame.loc[0, "commitment_id"] == "c1" and pd.isna(frame.loc[0, "sku"])


def test_pricing_example_is_one_row_per_product_with_tiers_as_floats():
    frame = build_frame("pricing", [(CONTEXT, pricing_rows(PRICING))])
    row = frame.iloc[0]
    assert (row["currency"], row["category"], row["sku"], row["product"], row["unit"]) == \
        ("CAD", "Networking", "PUBLIC_IP", "Public IP", "HOUR")
    amounts = (row["usage"], row["cost"], row["category_subtotal"], row["currency_total"])
    assert amounts == (465.0, 432.0, 432.0, 432.0)
    assert row["pricing_tiers"] == [{"usage": 300.0, "price": 1.0, "cost": 300.0},
                                    {"usage": 165.0, "price": 0.8, "cost": 132.0}]
    assert row["end_date"] == pd.Timestamp("2021-04-01 23:59:59.999", tz="UTC")


def test_customers_example_is_one_row_per_customer_and_pricing():
    frame = build_frame("customer_costs", [({}, customer_rows(CUSTOMERS, {CUSTOMERS["organizations"][0]["id"]:
                                                                            "reseller/jason"}))])
    row = frame.iloc[0]
    assert (row["organization_name"], row["organization_path"], row["total"], row["org_deleted"]) == \
        ("JasonOrg", "reseller/jason", 5244.0, False)
    assert row["applied_pricing_name"] == "Standard Pricing"
    assert row["categories"] == [{"category": "Networking", "subtotal": 684.0},
                                 {"category": "Disk", "subtotal": 4560.0}]


def test_metric_labels_are_utc_bucket_starts():
    points = [{"entityId": "e1", "label": "2021-08-12T12:00:00.000", "value": 0.27}]
    context = {**CONTEXT, "service_code": "s", "connection_type": "cloudstack", "environment_id": "v",
               "environment_name": "prod"}
    frame = build_frame("metrics", [(context, points)], rename={"label": "timestamp"})
    assert frame.loc[0, "timestamp"] == pd.Timestamp("2021-08-12 12:00", tz="UTC")
    assert frame.loc[0, "entity_id"] == "e1" and frame.loc[0, "value"] == 0.27
    assert list(frame.columns) == list(catalog.USAGE_SCHEMAS["metrics"])


@pytest.mark.parametrize("asked, expected", [
    ("instance.cpu.utilization", "instance.cpu.utilization"),
    ("cpu", "instance.cpu.utilization"), ("MEMORY", "instance.memory.utilization"),
])
def test_metric_names(asked, expected):
    assert resolve_metric(asked, ["instance.cpu.utilization", "instance.memory.utilization"]) == expected


@pytest.mark.parametrize("asked, message", [
    ("disk", "unknown metric 'disk'; the connections' descriptors offer: instance.cpu.utilization, "
             "instance.memory.utilization"),
    ("utilization", "ambiguous metric 'utilization'"),
    (None, "metric must be a metric identifier"),
])
def test_unknown_metrics_list_what_the_descriptors_offer(asked, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        resolve_metric(asked, ["instance.cpu.utilization", "instance.memory.utilization"])


def test_top_organizations_keep_one_entry_per_subtree():
    paths = ["acme", "acme/eu", "acme/eu/paris", "acmex", "zeta/x"]
    tree = pd.DataFrame({"id": list("abcde"), "path": paths})
    assert top_organizations(tree)["id"].tolist() == ["a", "d", "e"]
    assert top_organizations(tree.iloc[[1, 2, 3]])["id"].tolist() == ["b", "d"]
