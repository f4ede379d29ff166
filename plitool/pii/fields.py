"""The kinds of personal data plitool knows, and the header/label words that name them.

The field names are the ones the attribution graph (``flows.yaml``) and the item tables use:
``name, phone, id_number, email, bank_card, address, device_id, location, order_id, waybill``;
``imei`` and ``uscc`` (unified social credit code) are detected too.
"""

from __future__ import annotations

import re

from ..errors import UsageError
from ..i18n import _

#: Kinds a validator recognises anywhere in text.
VALIDATED = ("phone", "id_number", "email", "bank_card", "imei", "uscc")
#: Kinds recognised only where a column header, a label or a JSON key says so.
LABELLED = ("name", "address", "order_id", "waybill", "device_id", "location")
KINDS = VALIDATED + LABELLED

#: Short names accepted by ``--types``.
ALIASES = {
    "id": "id_number", "ric": "id_number", "idcard": "id_number",
    "mobile": "phone", "tel": "phone",
    "mail": "email", "e-mail": "email",
    "card": "bank_card", "bank": "bank_card", "bankcard": "bank_card",
    "device": "device_id", "order": "order_id", "credit_code": "uscc",
}

_WORDS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "收件人", "收货人", "联系人", "客户姓名", "真实姓名", "持卡人", "name", "fullname",
             "realname", "receiver", "receivername", "consignee", "customername", "truename"),
    "phone": ("手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式", "收件人电话", "收件人手机",
              "mobile", "mobileno", "phone", "phoneno", "phonenumber", "tel", "telephone", "cellphone", "msisdn"),
    "id_number": ("身份证", "身份证号", "身份证号码", "公民身份号码", "证件号", "证件号码", "idnumber", "idno",
                  "idcard", "idcardno", "ric"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件地址", "email", "mail", "emailaddress"),
    "bank_card": ("银行卡", "银行卡号", "卡号", "银行账号", "bankcard", "bankcardno", "cardno", "cardnumber"),
    "address": ("地址", "收件地址", "收货地址", "详细地址", "住址", "家庭住址", "通讯地址", "address", "addr",
                "receiveraddress", "shippingaddress"),
    "order_id": ("订单号", "订单编号", "订单", "orderid", "orderno", "ordernumber", "ordersn"),
    "waybill": ("运单号", "快递单号", "物流单号", "运单编号", "waybill", "waybillno", "trackingno",
                "trackingnumber"),
    "device_id": ("设备号", "设备id", "设备标识", "设备标识符", "deviceid", "idfa", "idfv", "oaid", "androidid",
                  "udid", "aaid", "guid"),
    "imei": ("imei", "imei号", "meid"),
    "location": ("位置", "定位", "经纬度", "所在位置", "location", "gps", "latlng", "latlon", "geo"),
    "uscc": ("统一社会信用代码", "信用代码", "uscc", "creditcode"),
}

#: Substrings that name a field inside longer keys (``receiverMobile``, ``user_phone``, ``收货人手机``).
_CONTAINS: tuple[tuple[str, str], ...] = (
    ("身份证", "id_number"), ("idcard", "id_number"), ("手机", "phone"), ("电话", "phone"), ("mobile", "phone"),
    ("phone", "phone"), ("邮箱", "email"), ("email", "email"), ("银行卡", "bank_card"), ("bankcard", "bank_card"),
    ("地址", "address"), ("address", "address"), ("订单", "order_id"), ("orderid", "order_id"),
    ("orderno", "order_id"), ("运单", "waybill"), ("快递单", "waybill"), ("waybill", "waybill"),
    ("tracking", "waybill"), ("imei", "imei"), ("idfa", "device_id"), ("oaid", "device_id"),
    ("deviceid", "device_id"), ("androidid", "device_id"), ("设备", "device_id"), ("姓名", "name"),
    ("realname", "name"), ("收件人", "name"), ("收货人", "name"), ("经纬度", "location"), ("定位", "location"),
)

_KEY_JUNK = re.compile(r"[\s_\-.:：()（）\[\]/]+")
_EXACT = {w: kind for kind, words in _WORDS.items() for w in words}


def field_for_label(label: object) -> str | None:
    """The field a column header, a label or a JSON key names, or None.

    >>> field_for_label("收件地址"), field_for_label("receiverMobile"), field_for_label("hostname")
    ('address', 'phone', None)
    """
    if not isinstance(label, str) or not label or len(label) > 64:
        return None
    key = _KEY_JUNK.sub("", label).lower()
    if not key:
        return None
    kind = _EXACT.get(key)
    if kind is not None:
        return kind
    if sum(c.isdigit() for c in key) >= 3:
        return None  # a value (电话 13812341234), not a label
    for part, kind in _CONTAINS:
        if part in key:
            return kind
    return None


def parse_types(text: str | None) -> frozenset[str]:
    """``--types phone,id,...`` → kinds; empty/None means every kind. Unknown names are an error."""
    if text is None or not text.strip():
        return frozenset(KINDS)
    chosen: set[str] = set()
    for raw in text.split(","):
        word = raw.strip().lower()
        if not word:
            continue
        kind = ALIASES.get(word, word)
        if kind not in KINDS:
            raise UsageError(_("unknown type {name!r} in --types; known: {known} (or id, card, device)").format(
                name=raw.strip(), known=", ".join(KINDS)))
        chosen.add(kind)
    return frozenset(chosen)


#: Free-text labels: ``姓名：张三``, ``收货地址: 示例市…``, ``order id = SO123``.
LABEL_WORDS = sorted({w for words in _WORDS.values() for w in words if len(w) > 1 and w not in ("tel", "geo")},
                     key=len, reverse=True)
