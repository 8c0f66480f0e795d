"""The everyday-registers corpus builder (data/build_registers.py) on small fixtures made here, its loader
(`load_texts("registers")`, `load_pairs`), and the shipped corpus' invariants."""

import collections
import gzip
import json
import os
import re
import subprocess
import sys
import zipfile

import pytest

from hypertext.data import load_pairs, load_texts

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data")
sys.path.insert(0, DATA)

import build_registers as br  # noqa: E402
import corpus_tools as ct  # noqa: E402

REGISTERS = os.path.join(DATA, "registers")


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as f:
        f.write(data)


def _documents(reader, folder):
    return list(reader(br.Files(str(folder))))


# --- held-out names, splits, inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fortunes-min", "fortune-mod", "STS-B", "stsbenchmark/sts-train.csv", "sick2014",
                                  "SemEval-2016", "msrp/msr_paraphrase_train.txt", "TREC_10.label", "WikiQA-train.tsv",
                                  "flickr30k", "mscoco/captions_train2014.json", "snli_1.0_train.jsonl",
                                  "multinli_1.0", "pascal-sentences", "msr-vtt"])
def test_held_out_names_are_refused(name):
    with pytest.raises(ValueError, match=r"held-out collection.*Received: name="):
        br.check_not_held_out(name)


@pytest.mark.parametrize("name", ["google-research-datasets+dstc8-schema-guided-dialogue", "TM-4-2024/data/a.json",
                                  "conversations/test_freq.json", "help/en-US/text/swriter/guide/captions.html",
                                  "lists/stsdev-notes", "chitchat_dataset/dataset.json", "data/train/x.raw.txt"])
def test_ordinary_names_pass(name):
    br.check_not_held_out(name)


def test_split_of_document_is_stable_and_about_97_1p5_1p5():
    assert br.split_of_document("sgd", "train/1_00000") == br.split_of_document("sgd", "train/1_00000")
    counts = collections.Counter(br.split_of_document("src", i) for i in range(40000))
    assert 0.965 < counts["train"] / 40000 < 0.975
    assert 0.012 < counts["dev"] / 40000 < 0.018 and 0.012 < counts["test"] / 40000 < 0.018
    # The source is part of the key: the same id may fall elsewhere in another source.
    assert any(br.split_of_document("a", i) != br.split_of_document("b", i) for i in range(2000))


def test_files_reads_folders_git_directories_and_wheels(tmp_path):
    _write(str(tmp_path / "repo" / "d" / "a.json"), "[1]")
    _write(str(tmp_path / "repo" / "b.txt"), "text")
    _write(str(tmp_path / "repo" / "d" / "fortunes.json"), "[2]")
    folder = br.Files(str(tmp_path / "repo"))
    assert folder.matching(r"d/.*\.json") == ["d/a.json"] and folder.json("d/a.json") == [1]
    with pytest.raises(ValueError, match=r"held-out"):
        folder.read("d/fortunes.json")
    git = ["git", "-C", str(tmp_path / "repo"), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    bare = br.Files(str(tmp_path / "repo" / ".git"))
    assert bare.commit and re.fullmatch(r"[0-9a-f]{40}", bare.commit)
    assert bare.read("b.txt") == b"text" and bare.used == {"b.txt": bare.paths["b.txt"]}
    with zipfile.ZipFile(tmp_path / "x.whl", "w") as z:
        z.writestr("pkg/data.json", "{}")
    assert br.Files(str(tmp_path / "x.whl")).json("pkg/data.json") == {}


def test_files_rejects_a_missing_input(tmp_path):
    with pytest.raises(ValueError, match=r"Received: input="):
        br.Files(str(tmp_path / "nothing"))


# --- readers ---------------------------------------------------------------------------------------------------------

def test_dialogue_texts_and_reply_pairs():
    doc_id, texts, pairs = br.dialogue("d1", ["I would like to book a table for two.", "ok",
                                              "What time would you like the table for?",
                                              "Around seven in the evening, if that is possible."])
    assert doc_id == "d1" and "ok" not in texts and len(texts) == 3
    assert pairs == [("What time would you like the table for?",
                      "Around seven in the evening, if that is possible.", "reply")]


def test_dialogue_dataset_readers(tmp_path):
    turn = "Could you help me find a nice restaurant in the city?"
    reply = "Sure, what kind of food would you like to eat there?"
    _write(str(tmp_path / "sgd" / "train" / "dialogues_001.json"),
           json.dumps([{"dialogue_id": "1_0", "turns": [{"utterance": turn}, {"utterance": reply}]}]))
    _write(str(tmp_path / "sgd" / "train" / "schema.json"), "[]")  # not a dialogue file
    assert _documents(br.read_sgd, tmp_path / "sgd") == [("train/1_0", [turn, reply], [(turn, reply, "reply")])]
    _write(str(tmp_path / "tm" / "TM-4-2024" / "data" / "data_00.json"),
           json.dumps([{"conversation_id": "c1", "utterances": [{"text": turn}, {"text": reply}]}]))
    _write(str(tmp_path / "tm" / "TM-4-2024" / "reward" / "reward_00.json"), "not read")
    assert _documents(br.read_taskmaster, tmp_path / "tm")[0][1] == [turn, reply]
    _write(str(tmp_path / "tc" / "conversations" / "valid_freq.json"),
           json.dumps({"t_1": {"content": [{"message": turn}, {"message": reply}]}}))
    assert _documents(br.read_topical_chat, tmp_path / "tc") == [("t_1", [turn, reply], [(turn, reply, "reply")])]
    _write(str(tmp_path / "dq" / "dev.json"), json.dumps({"q1": {
        "original": "What did the government want Thoreau to do?",
        "disfluent": "Who did no What did the government want Thoreau to do?"}}))
    assert _documents(br.read_disfl_qa, tmp_path / "dq") == [("q1", [
        "What did the government want Thoreau to do?"], [(
            "Who did no What did the government want Thoreau to do?", "What did the government want Thoreau to do?",
            "disfluent")])]
    with zipfile.ZipFile(tmp_path / "chitchat.whl", "w") as z:
        z.writestr("chitchat_dataset/dataset.json", json.dumps({"c": {"messages": [
            [{"text": "hey there"}, {"text": "how are you doing today?"}],
            [{"text": "I am doing well, thanks for asking me"}]]}}))
    docs = list(br.read_chitchat(br.Files(str(tmp_path / "chitchat.whl"))))
    assert docs == [("c", ["hey there how are you doing today?", "I am doing well, thanks for asking me"],
                     [("hey there how are you doing today?", "I am doing well, thanks for asking me", "reply")])]


def test_html_manuals_reader_skips_translations_code_and_page_metadata(tmp_path):
    page = ("<html><body><p>Click the <code>Save</code> button , then close the window.</p>"
            "<pre>rm -rf / and other code that is never prose</pre><ul><li><p>Choose a name for the file "
            "you want to save.</p></li></ul><p>Title is: Saving files in the office suite</p>"
            "<script>var x = 'This is a script and not prose at all.';</script></body></html>")
    _write(str(tmp_path / "pkg" / "usr/share/help/en-US/text/save.html"), page)
    _write(str(tmp_path / "pkg" / "usr/share/help/de/text/save.html"), page)
    _write(str(tmp_path / "pkg" / "usr/share/doc/x/guide-fr/save.html"), page)
    _write(str(tmp_path / "pkg" / "usr/share/doc/x/fdl-license.html"), page)  # license texts are not read
    docs = _documents(br.read_manuals, tmp_path)
    assert docs == [("pkg/usr/share/help/en-US/text/save.html", [
        "Click the Save button, then close the window.", "Choose a name for the file you want to save."], [])]


def test_app_help_reader_reads_mallard_pages_of_c_folders(tmp_path):
    page = ('<page xmlns="http://projectmallard.org/1.0/"><p>Select <guiseq><gui>Edit</gui><gui>Preferences</gui>'
            '</guiseq> or press <keyseq><key>Ctrl</key><key>P</key></keyseq> to change the settings.</p></page>')
    _write(str(tmp_path / "app" / "usr/share/help/C/app/prefs.page"), page)
    _write(str(tmp_path / "app" / "usr/share/help/de/app/prefs.page"), page)
    _write(str(tmp_path / "guide" / "usr/share/help/C/guide/basics.xml"),
           "<sect1><para>The panel is the bar at the top of the screen, where menus and launchers live.</para>"
           "<screen>not prose</screen></sect1>")
    docs = _documents(br.read_app_help, tmp_path)
    assert [d[1] for d in docs] == [["The panel is the bar at the top of the screen, where menus and launchers live."],
                                    ["Select Edit \u25b8 Preferences or press Ctrl+P to change the settings."]]


def test_handbooks_reader_expands_docbook_entities(tmp_path):
    _write(str(tmp_path / "kdoctools5" / "usr/share/kf5/kdoctools/customization/entities/general.entities"),
           '<!ENTITY kde "<acronym>KDE</acronym>">\n<!ENTITY eg "<abbrev>e.g.</abbrev>">\n')
    book = ('<!DOCTYPE book [ <!ENTITY kapp "<application>KBounce</application>"> ]>'
            '<book><para>&kapp; is a single player arcade game for &kde;, played on a field.</para>'
            '<para>Press <keycap>P</keycap> to pause the game at any time you like.</para>'
            '<screen>kbounce --help and other commands</screen>'
            '<para>An &unknownentity; leaves this paragraph out of the corpus entirely.</para></book>')
    _write(str(tmp_path / "kbounce" / "usr/share/doc/HTML/en/kbounce/index.docbook"), book)
    _write(str(tmp_path / "kbounce" / "usr/share/doc/HTML/de/kbounce/index.docbook"), book)
    [(doc_id, texts, pairs)] = _documents(br.read_handbooks, tmp_path)
    assert texts == ["KBounce is a single player arcade game for KDE, played on a field.",
                     "Press P to pause the game at any time you like."]


def test_sotu_reader(tmp_path):
    _write(str(tmp_path / "data" / "1790_george_washington_n.txt"),
           "Fellow-Citizens of the Senate and House of Representatives: I embrace with great satisfaction the "
           "opportunity.\n\nThe progress of public credit is witnessed by a considerable rise of stock abroad.\n")
    _write(str(tmp_path / "data" / "1790_george_washington_n.json"), "{}")
    [(doc_id, texts, pairs)] = _documents(br.read_sotu, tmp_path)
    assert doc_id == "data/1790_george_washington_n.txt" and len(texts) == 2 and pairs == []


def test_email_reader_drops_headers_quotes_and_signatures(tmp_path):
    message = ("From: someone@example.com\nSubject: Re: [exmh] How do I set up the mail filters?\n"
               "Content-Type: text/plain\n\nOn Monday, Bob wrote:\n> You need to quote the old message here.\n\n"
               "I have tried that and it works for me now.\nThanks for the help with the filters.\n\n-- \n"
               "Alice, who signs every message with a long signature line\n")
    _write(str(tmp_path / "data" / "easy-ham-1" / "00001.abc.txt"), message)
    _write(str(tmp_path / "data" / "spam-1" / "00001.def.txt"), message)  # spam is not read
    [(doc_id, texts, pairs)] = _documents(br.read_email, tmp_path)
    assert texts == ["I have tried that and it works for me now. Thanks for the help with the filters."]
    assert pairs == [("How do I set up the mail filters?", texts[0], "subject_body")]


def test_ubuntu_irc_reader_strips_addressees_and_pairs_replies(tmp_path):
    log = ("=== someone has joined #ubuntu\n"
           "[09:40] <alice> where do i go to change the refresh rate on my monitor?\n"
           "[09:41] <bob> alice: open the display settings and pick another rate there\n"
           "[09:42] <carol> hi\n")
    _write(str(tmp_path / "data" / "train" / "2005-01-01.train-c.raw.txt"), log)
    _write(str(tmp_path / "data" / "train" / "2005-01-01.train-c.annotation.txt"), "1 1 -\n2 1 -\n3 3 -\n")
    [(day, texts, pairs)] = _documents(br.read_ubuntu_irc, tmp_path)
    assert day == "2005-01-01"
    assert texts == ["where do i go to change the refresh rate on my monitor?",
                     "open the display settings and pick another rate there"]
    assert pairs == [(texts[0], texts[1], "reply")]


def test_meetings_reader_detokenises_and_pairs_queries(tmp_path):
    meeting = {"meeting_transcripts": [
        {"speaker": "A", "content": "Okay {vocalsound} so this is the kick-off meeting for our project ."},
        {"speaker": "B", "content": "Right , that 's what I thought we were doing here today ."}],
        "general_query_list": [{"query": "Summarize the whole meeting please.",
                                "answer": "The team met to start the design of a new remote control."}],
        "specific_query_list": []}
    _write(str(tmp_path / "data" / "Product" / "all" / "ES2002a.json"), json.dumps(meeting))
    _write(str(tmp_path / "data" / "Committee" / "all" / "x.json"), json.dumps(meeting))  # not read
    [(doc_id, texts, pairs)] = _documents(br.read_meetings, tmp_path)
    assert texts[:2] == ["Okay so this is the kick-off meeting for our project.",
                         "Right, that's what I thought we were doing here today."]
    assert [p[2] for p in pairs] == ["reply", "query_answer"]


def test_stackexchange_reader(tmp_path):
    posts = ('<?xml version="1.0" encoding="utf-8"?><posts>'
             '<row Id="1" PostTypeId="1" Title="How should I store whole bean coffee at home?" '
             'Body="&lt;p&gt;I just got a pound of fresh coffee and wonder how to keep it.&lt;/p&gt;'
             '&lt;pre&gt;&lt;code&gt;not prose&lt;/code&gt;&lt;/pre&gt;" />'
             '<row Id="2" PostTypeId="2" ParentId="1" Body="&lt;p&gt;Keep it in an airtight jar in a dark '
             'cupboard.&lt;/p&gt;" />'
             '<row Id="3" PostTypeId="5" Body="&lt;p&gt;A tag wiki excerpt that is not read at all.&lt;/p&gt;" />'
             '</posts>')
    _write(str(tmp_path / "coffee.stackexchange.com" / "Posts.xml"), posts)
    [(doc_id, texts, pairs)] = _documents(br.read_stackexchange, tmp_path)
    title, body, answer = ("How should I store whole bean coffee at home?",
                           "I just got a pound of fresh coffee and wonder how to keep it.",
                           "Keep it in an airtight jar in a dark cupboard.")
    assert doc_id == "coffee.stackexchange.com/1" and texts == [title, body, answer]
    assert pairs == [(title, body, "title_body"), (title, answer, "question_answer")]


# --- splitting, dedup, writing ---------------------------------------------------------------------------------------

def _doc_in(split, source="s"):
    return next(f"d{i}" for i in range(100000) if br.split_of_document(source, f"d{i}") == split)


def test_assign_dedups_case_insensitively_and_keeps_a_text_in_one_split():
    train, dev, test = _doc_in("train"), _doc_in("dev"), _doc_in("test")
    docs = [(dev, ["A text of the dev document.", "Shared by dev and train docs."], [("a", "b", "reply")]),
            (train, ["shared by DEV and train docs.", "Old text seen before."], [("a", "b", "reply")]),
            (test, ["A text of the test document.", "A TEXT of the test document."], [])]
    texts, pairs = br.assign("s", docs, seen={"old text seen before."})
    # The spelling kept is the one of the split the text goes to (of those, the first in sorted order).
    assert texts == {"train": ["shared by DEV and train docs."], "dev": ["A text of the dev document."],
                     "test": ["A TEXT of the test document."]}
    assert pairs == {"train": [("a", "b", "reply")], "dev": [], "test": []}


def test_build_source_is_deterministic_and_hands_off_whole_files(tmp_path, monkeypatch):
    dialogues = [{"dialogue_id": f"1_{i:05d}", "turns": [
        {"utterance": f"I would like to book a table for {i} people tonight."},
        {"utterance": f"Sure, a table for {i} people: at what time would you like it?"}]} for i in range(300)]
    _write(str(tmp_path / "in" / "train" / "dialogues_001.json"), json.dumps(dialogues))
    monkeypatch.setattr(br, "shipped_texts", lambda out_dir, before: set())
    first = br.build_source("sgd", br.Files(str(tmp_path / "in")), str(tmp_path / "a"),
                            handoff_dir=str(tmp_path / "hand"))
    br.build_source("sgd", br.Files(str(tmp_path / "in")), str(tmp_path / "b"))
    for name in ("sgd.train.txt.gz", "sgd.dev.txt.gz", "sgd.test.txt.gz", "sgd.pairs.tsv.gz"):
        data = (tmp_path / "a" / name).read_bytes()
        assert data == (tmp_path / "b" / name).read_bytes() and data[4:8] == b"\0\0\0\0"
    assert sum(first[0].values()) == 600 and sum(first[1].values()) == 300
    hand = sorted(os.listdir(tmp_path / "hand"))
    assert hand == ["READY"] + sorted(f"sgd.{kind}{split}.{ext}" for split in br.SPLITS
                                      for kind, ext in (("", "txt"), ("pairs.", "tsv")))
    ready = (tmp_path / "hand" / "READY").read_text().splitlines()
    assert ready == [f"sgd train={first[0]['train']} dev={first[0]['dev']} test={first[0]['test']} "
                     f"pairs.train={first[1]['train']} pairs.dev={first[1]['dev']} pairs.test={first[1]['test']}"]
    assert len((tmp_path / "hand" / "sgd.train.txt").read_text().splitlines()) == first[0]["train"]
    assert (tmp_path / "a" / "SOURCES").read_text() == "sgd\n"
    assert (tmp_path / "a" / "sgd.inputs").read_text() == "- train/dialogues_001.json\n"


def test_build_source_rejects_an_unknown_source(tmp_path):
    with pytest.raises(ValueError, match=r"Received: source='snli'"):
        br.build_source("snli", br.Files(str(tmp_path)), str(tmp_path / "out"))


# --- the loader ------------------------------------------------------------------------------------------------------

def test_load_texts_and_pairs_of_a_register_corpus(tmp_path, monkeypatch):
    folder = tmp_path / "registers"
    for split, texts in (("train", ["Train one.", "Train two."]), ("dev", ["Dev one."]), ("test", ["Test one."])):
        ct.write_texts(texts, str(folder / f"src.{split}.txt.gz"))
    ct.write_texts(["split\ttext_a\ttext_b\tkind", "train\tHi there.\tHello.\treply", "dev\tQ?\tA.\tquestion_answer"],
                   str(folder / "src.pairs.tsv.gz"))
    (folder / "SOURCES").write_text("src\n")
    monkeypatch.setenv("HYPERTEXT_DATA", str(tmp_path))
    assert load_texts("registers", "train") == ["Train one.", "Train two."]
    assert load_texts("registers", "dev") == load_texts("registers", "validation") == ["Dev one."]
    assert load_texts("registers", "test", limit=1) == ["Test one."]
    assert load_pairs("registers", "train") == [("Hi there.", "Hello.", "reply")]
    assert load_pairs("registers", "dev", kinds={"reply"}) == []
    with pytest.raises(ValueError, match=r"Received: source='english'"):
        load_pairs("english")
    with pytest.raises(ValueError, match=r"register corpus only"):
        load_pairs("wordnet", sources=["src"])
    with pytest.raises(ValueError, match=r"Received: sources="):
        load_pairs("registers", sources=["nope"])
    with pytest.raises(ValueError, match=r"Received: split='dev'"):
        load_texts("wordnet", "dev")  # "dev" is a name of the register corpus' files only
    (folder / "SOURCES").unlink()
    with pytest.raises(FileNotFoundError, match=r"build_registers"):
        load_texts("registers", "train")


# --- the shipped corpus ----------------------------------------------------------------------------------------------

def _readme_counts():
    """{source: (train, dev, test, pairs)} from the registers table of data/README.md."""
    with open(os.path.join(DATA, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme[readme.index("## `registers/`"):]
    section = section[section.index("Counts (texts"):section.index("Registers and pair kinds")]
    counts = {}
    for name, cells in re.findall(r"^\| `(\w+)` \|([^\n]*)$", section, re.M):
        counts[name] = tuple(int(c.strip().replace(",", "")) for c in cells.split("|")[:4])
    return counts


@pytest.mark.skipif(not os.path.isfile(os.path.join(REGISTERS, "SOURCES")), reason="registers corpus not built")
def test_shipped_registers_match_the_readme_and_keep_dev_and_test_out_of_train():
    with open(os.path.join(REGISTERS, "SOURCES"), encoding="utf-8") as f:
        sources = f.read().split()
    assert sources == [s for s in br.ORDER if s in sources]
    readme = _readme_counts()
    assert sorted(readme) == sorted(sources)
    seen = {split: set() for split in br.SPLITS}
    for name in sources:
        counts = []
        for split in br.SPLITS:
            texts = ct.read_texts(os.path.join(REGISTERS, f"{name}.{split}.txt.gz"))
            keys = {t.casefold() for t in texts}
            assert len(keys) == len(texts)  # deduplicated within the file
            for other in seen.values():
                assert not keys & other  # nor in any other file, of this source or another
            seen[split] |= keys
            counts.append(len(texts))
        pairs_path = os.path.join(REGISTERS, f"{name}.pairs.tsv.gz")
        n_pairs = 0
        if os.path.isfile(pairs_path):
            with gzip.open(pairs_path, "rt", encoding="utf-8") as f:
                assert next(f) == "split\ttext_a\ttext_b\tkind\n"
                for line in f:
                    split, a, b, kind = line.rstrip("\n").split("\t")
                    assert split in br.SPLITS and a and b and kind
                    n_pairs += 1
        assert readme[name] == (*counts, n_pairs), name
    for text in list(seen["dev"])[:2000] + list(seen["test"])[:2000]:
        assert ct.MIN_CHARS <= len(text) <= ct.MAX_CHARS


@pytest.mark.skipif(not os.path.isfile(os.path.join(REGISTERS, "SOURCES")), reason="registers corpus not built")
def test_shipped_bible_share_is_at_most_a_fifth():
    registers = sum(len(load_texts("registers", split)) for split in ("train", "validation", "test"))
    everyday = sum(len(ct.read_texts(os.path.join(DATA, "everyday", f"{name}.txt.gz")))
                   for name in open(os.path.join(DATA, "everyday", "SOURCES")).read().split())
    bible = len(ct.read_texts(os.path.join(DATA, "everyday", "bible.txt.gz")))
    assert bible <= 0.2 * (registers + everyday)
