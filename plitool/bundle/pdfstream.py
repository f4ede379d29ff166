"""A PDF writer that streams: each page is written to the file as soon as it is copied.

pypdf's ``PdfWriter`` keeps every page of the output (and every overlay merged into it) in memory
until ``write``; for a 2,000-page bundle that is the whole bundle. Here each source page's object
graph is copied once, straight to the output file, with its references renumbered; only the
output's cross-reference offsets, the page numbers and the bookmarks stay in memory, plus the
renumbering table of the one source document being copied.

Streams are copied with their encoded bytes untouched (no content stream is parsed or re-encoded).
The stamp is a separate content stream appended after the page's own, which is wrapped in ``q``/``Q``
so that whatever graphics state the page leaves behind cannot move or hide the stamp.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pypdf import PageObject, PdfReader
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NullObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

#: Keys never followed when a page is copied: they point back up the page tree or to other
#: pages (``/P`` of annotations, ``/B`` beads, ``/StructParents`` into a tree not copied).
_SKIPPED_KEYS = frozenset({"/Parent", "/P", "/B", "/StructParents", "/Thumb"})
_INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
STAMP_FONT = "/PltStamp"
DOT_FONT = "/PltDot"


@dataclass
class Outline:
    title: str
    page: int  # 0-based page index in the output
    children: list[Outline] = field(default_factory=list)


class _Ref(IndirectObject):
    """A reference to an object of the output file (pypdf writes it as ``n 0 R``)."""

    def __init__(self, num: int) -> None:
        super().__init__(num, 0, None)  # type: ignore[arg-type]


class StreamingPdfWriter:
    """Write a PDF page by page; call :meth:`finish` once at the end."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.offsets: list[int] = []
        self.pages: list[int] = []
        self.attachments: list[tuple[str, int]] = []
        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._pages_root = self._alloc()
        self._q = self.add_stream(b"q\n")
        self._big_q = self.add_stream(b"\nQ\n")
        self._font: int | None = None
        self._dot_font = self.add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }))

    # -- low level ----------------------------------------------------------------------------

    def _alloc(self) -> int:
        self.offsets.append(-1)
        return len(self.offsets)

    def _write(self, num: int, obj: PdfObject) -> None:
        self.offsets[num - 1] = self.fh.tell()
        self.fh.write(f"{num} 0 obj\n".encode())
        obj.write_to_stream(self.fh)
        self.fh.write(b"\nendobj\n")

    def add_object(self, obj: PdfObject) -> int:
        num = self._alloc()
        self._write(num, obj)
        return num

    def add_stream(self, data: bytes, extra: dict[str, PdfObject] | None = None) -> int:
        stream = DecodedStreamObject()
        stream.set_data(data)
        for k, v in (extra or {}).items():
            stream[NameObject(k)] = v
        return self.add_object(stream)

    # -- copying from a source document -------------------------------------------------------

    def _clone(self, obj: PdfObject, memo: dict[tuple[int, int], int], todo: list[tuple[int, PdfObject]]) -> PdfObject:
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key not in memo:
                target = obj.get_object()
                if isinstance(target, DictionaryObject) and target.get("/Type") in ("/Page", "/Pages"):
                    return NullObject()  # a link to another page of the source: not followed
                memo[key] = self._alloc()
                todo.append((memo[key], target if target is not None else NullObject()))
            return _Ref(memo[key])
        if isinstance(obj, StreamObject):
            stream = type(obj)()
            stream._data = obj._data
            for k, v in obj.items():
                if k not in _SKIPPED_KEYS:
                    stream[NameObject(k)] = self._clone(v, memo, todo)
            return stream
        if isinstance(obj, DictionaryObject):
            return DictionaryObject({NameObject(k): self._clone(v, memo, todo) for k, v in obj.items()
                                     if k not in _SKIPPED_KEYS})
        if isinstance(obj, ArrayObject):
            return ArrayObject(self._clone(v, memo, todo) for v in obj)
        return obj

    def _drain(self, memo: dict[tuple[int, int], int], todo: list[tuple[int, PdfObject]]) -> None:
        while todo:
            num, target = todo.pop()
            self._write(num, self._clone(target, memo, todo) if not isinstance(target, IndirectObject) else NullObject())

    def _stamp_font(self) -> int:
        if self._font is None:
            from .layout import stamp_font_object

            reader, font_ref = stamp_font_object()
            memo: dict[tuple[int, int], int] = {}
            todo: list[tuple[int, PdfObject]] = []
            ref = self._clone(font_ref, memo, todo)
            self._drain(memo, todo)
            assert isinstance(ref, IndirectObject)
            self._font = ref.idnum
            del reader
        return self._font

    def copy_page(self, page: PageObject, memo: dict[tuple[int, int], int],
                  stamp: Callable[[float, float, float, float, int], bytes] | None = None) -> int:
        """Copy one page of a source document; ``stamp(x0, y0, x1, y1, rotate)`` gives the
        operators drawn over it (font ``/PltStamp``). ``memo`` is shared by the pages of one
        source, so resources they share are written once."""
        todo: list[tuple[int, PdfObject]] = []
        inherited: dict[str, PdfObject] = {}
        node: Any = page
        seen: set[int] = set()
        while isinstance(node, DictionaryObject) and id(node) not in seen:  # a looping /Parent ends here
            seen.add(id(node))
            for key in _INHERITED:
                if key not in inherited and key in node:
                    inherited[key] = node[key]
            parent = node.get("/Parent")
            node = parent.get_object() if parent is not None else None
        new = DictionaryObject()
        for k, v in page.items():
            if k in _SKIPPED_KEYS or k in ("/Contents", "/Resources", "/Annots", "/Type"):
                continue
            new[NameObject(k)] = self._clone(v, memo, todo)
        new[NameObject("/Type")] = NameObject("/Page")
        new[NameObject("/Parent")] = _Ref(self._pages_root)
        for key in ("/MediaBox", "/CropBox", "/Rotate"):
            if key in inherited:
                new[NameObject(key)] = self._clone(inherited[key], memo, todo)
        if "/MediaBox" not in new:
            new[NameObject("/MediaBox")] = ArrayObject([NumberObject(0), NumberObject(0), FloatObject(595.28), FloatObject(841.89)])
        resources = inherited.get("/Resources")
        res_obj = resources.get_object() if resources is not None else None
        new_res = DictionaryObject()
        if isinstance(res_obj, DictionaryObject):
            for k, v in res_obj.items():
                if k != "/Font":
                    new_res[NameObject(k)] = self._clone(v, memo, todo)
            fonts = res_obj.get("/Font")
            fonts_obj = fonts.get_object() if fonts is not None else None
            new_fonts = DictionaryObject()
            if isinstance(fonts_obj, DictionaryObject):
                for k, v in fonts_obj.items():
                    new_fonts[NameObject(k)] = self._clone(v, memo, todo)
        else:
            new_fonts = DictionaryObject()
        annots = page.get("/Annots")
        annots_obj = annots.get_object() if annots is not None else None
        if isinstance(annots_obj, ArrayObject):
            kept = ArrayObject()
            for a in annots_obj:
                ao: Any = a.get_object()
                action: Any = ao.get("/A") if isinstance(ao, DictionaryObject) else None
                action = action.get_object() if action is not None else None
                internal = isinstance(ao, DictionaryObject) and ao.get("/Subtype") == "/Link" and (
                    "/Dest" in ao or (isinstance(action, DictionaryObject) and action.get("/S") == "/GoTo"))
                if not internal:
                    kept.append(self._clone(a, memo, todo))
            if kept:
                new[NameObject("/Annots")] = kept
        contents = page.get("/Contents")
        own: list[PdfObject] = []
        if contents is not None:
            cobj = contents.get_object()
            if isinstance(cobj, ArrayObject):
                own = [self._clone(c, memo, todo) for c in cobj]
            else:
                own = [self._clone(contents, memo, todo)]
        parts: list[PdfObject] = [_Ref(self._q), *own, _Ref(self._big_q)]
        if stamp is not None:
            name, dot = STAMP_FONT, DOT_FONT
            while NameObject(name) in new_fonts or NameObject(dot) in new_fonts:
                name, dot = name + "X", dot + "X"
            new_fonts[NameObject(name)] = _Ref(self._stamp_font())
            new_fonts[NameObject(dot)] = _Ref(self._dot_font)
            box = new.get("/CropBox") or new["/MediaBox"]
            box_obj = box.get_object() if isinstance(box, IndirectObject) else box
            x0, y0, x1, y1 = (float(v.get_object()) for v in box_obj)  # type: ignore[union-attr]
            rotate = new.get("/Rotate")
            rot = int(rotate.get_object()) % 360 if rotate is not None else 0  # type: ignore[call-overload]
            ops = stamp(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), rot)
            ops = ops.replace(STAMP_FONT.encode() + b" ", name.encode() + b" ").replace(DOT_FONT.encode() + b" ", dot.encode() + b" ")
            parts.append(_Ref(self.add_stream(ops)))
        if new_fonts:
            new_res[NameObject("/Font")] = new_fonts
        new[NameObject("/Resources")] = new_res
        new[NameObject("/Contents")] = ArrayObject(parts)
        self._drain(memo, todo)
        num = self.add_object(new)
        self.pages.append(num)
        return num

    def copy_document(self, reader: PdfReader, stamp_for: Callable[[int], Callable[[float, float, float, float, int], bytes]] | None = None) -> None:
        memo: dict[tuple[int, int], int] = {}
        for i, page in enumerate(reader.pages):
            self.copy_page(page, memo, stamp_for(i) if stamp_for else None)

    def mark(self) -> tuple[int, int, int, int, int | None]:
        """Where the file stands, to :meth:`rollback` to if copying a source fails half-way."""
        return self.fh.tell(), len(self.offsets), len(self.pages), len(self.attachments), self._font

    def rollback(self, state: tuple[int, int, int, int, int | None]) -> None:
        pos, objects, pages, attachments, font = state
        self.fh.seek(pos)
        self.fh.truncate()
        del self.offsets[objects:], self.pages[pages:], self.attachments[attachments:]
        self._font = font

    # -- attachments --------------------------------------------------------------------------

    def attach_file(self, name: str, path: str | os.PathLike[str], size: int, description: str) -> None:
        """Embed a file as a document attachment, copied in chunks (never whole in memory)."""
        num = self._alloc()
        self.offsets[num - 1] = self.fh.tell()
        md5 = hashlib.md5(usedforsecurity=False)
        self.fh.write(f"{num} 0 obj\n<< /Type /EmbeddedFile /Length {size} /Params << /Size {size} >> >>\nstream\n".encode())
        copied = 0
        with open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                md5.update(chunk)
                copied += len(chunk)
                self.fh.write(chunk)
        if copied != size:
            raise OSError(f"{path} changed size while it was attached")
        self.fh.write(b"\nendstream\nendobj\n")
        ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
        spec = DictionaryObject({
            NameObject("/Type"): NameObject("/Filespec"),
            NameObject("/F"): TextStringObject(ascii_name),
            NameObject("/UF"): TextStringObject(name),
            NameObject("/Desc"): TextStringObject(description),
            NameObject("/AFRelationship"): NameObject("/Source"),
            NameObject("/EF"): DictionaryObject({NameObject("/F"): _Ref(num), NameObject("/UF"): _Ref(num)}),
        })
        self.attachments.append((name, self.add_object(spec)))

    # -- the end ------------------------------------------------------------------------------

    def _outlines(self, outlines: list[Outline], parent: int) -> tuple[int, int, int]:
        """Write a level of bookmarks; return (first, last, count of all descendants)."""
        nums = [self._alloc() for _o in outlines]
        total = 0
        for i, (o, num) in enumerate(zip(outlines, nums)):
            d = DictionaryObject({
                NameObject("/Title"): TextStringObject(o.title),
                NameObject("/Parent"): _Ref(parent),
                NameObject("/Dest"): ArrayObject([_Ref(self.pages[o.page]), NameObject("/Fit")]),
            })
            if i:
                d[NameObject("/Prev")] = _Ref(nums[i - 1])
            if i + 1 < len(nums):
                d[NameObject("/Next")] = _Ref(nums[i + 1])
            if o.children:
                first, last, count = self._outlines(o.children, num)
                d[NameObject("/First")], d[NameObject("/Last")] = _Ref(first), _Ref(last)
                d[NameObject("/Count")] = NumberObject(-count)  # closed
                total += count
            self._write(num, d)
            total += 1
        return nums[0], nums[-1], total

    def finish(self, outlines: list[Outline], info: dict[str, str]) -> None:
        self._write(self._pages_root, DictionaryObject({
            NameObject("/Type"): NameObject("/Pages"),
            NameObject("/Count"): NumberObject(len(self.pages)),
            NameObject("/Kids"): ArrayObject(_Ref(n) for n in self.pages),
        }))
        catalog = DictionaryObject({
            NameObject("/Type"): NameObject("/Catalog"),
            NameObject("/Pages"): _Ref(self._pages_root),
        })
        if outlines:
            root = self._alloc()
            first, last, count = self._outlines(outlines, root)
            self._write(root, DictionaryObject({
                NameObject("/Type"): NameObject("/Outlines"),
                NameObject("/First"): _Ref(first),
                NameObject("/Last"): _Ref(last),
                NameObject("/Count"): NumberObject(count),
            }))
            catalog[NameObject("/Outlines")] = _Ref(root)
            catalog[NameObject("/PageMode")] = NameObject("/UseOutlines")
        if self.attachments:
            names = ArrayObject()
            for name, num in sorted(self.attachments):
                names += [TextStringObject(name), _Ref(num)]
            catalog[NameObject("/Names")] = DictionaryObject({
                NameObject("/EmbeddedFiles"): DictionaryObject({NameObject("/Names"): names}),
            })
        root_num = self.add_object(catalog)
        info_num = self.add_object(DictionaryObject({NameObject("/" + k): TextStringObject(v) for k, v in info.items()}))
        xref = self.fh.tell()
        self.fh.write(f"xref\n0 {len(self.offsets) + 1}\n0000000000 65535 f \n".encode())
        for off in self.offsets:
            if off < 0:
                raise AssertionError("an object was allocated but never written")
            self.fh.write(f"{off:010d} 00000 n \n".encode())
        file_id = ByteStringObject(secrets.token_bytes(16))
        trailer = DictionaryObject({
            NameObject("/Size"): NumberObject(len(self.offsets) + 1),
            NameObject("/Root"): _Ref(root_num),
            NameObject("/Info"): _Ref(info_num),
            NameObject("/ID"): ArrayObject([file_id, file_id]),
        })
        self.fh.write(b"trailer\n")
        trailer.write_to_stream(self.fh)
        self.fh.write(f"\nstartxref\n{xref}\n%%EOF\n".encode())
