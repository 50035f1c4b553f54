"""The code detector's evidence table: one RE2 pattern per row, weighted per language.

Each row says what a line or token of source code looks like and how much its presence in
a chunk of text supports each language (``code`` is language-independent structure). The
table is data (STYLE.md 7): a new language or idiom is one row here and one test row.
Weights are hand-set log-odds: about 3 for a token that alone identifies a language
(``#include <stdio.h>``, ``fmt.Println(``), 1 to 2 for idioms shared by a few languages,
under 1 for hints that prose also produces. Presence counts once per chunk, so a token
repeated a hundred times weighs what it weighs once.

Configuration formats (YAML, JSON, TOML, INI, XML, .env) are deliberately not languages
here: most data policies treat source code and configuration differently, and secrets in
configuration are the secret detectors' job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NAMED_LANGUAGES: tuple[str, ...] = (
    "python",
    "javascript",
    "typescript",
    "java",
    "c",
    "cpp",
    "csharp",
    "go",
    "rust",
    "php",
    "ruby",
    "kotlin",
    "swift",
    "sql",
    "shell",
    "powershell",
    "html",
    "css",
    "perl",
)
CODE = "code"
"""The pseudo-language of language-independent structure (``;`` line ends, calls, ...)."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One pattern and the evidence its presence gives to each language."""

    regex: str
    weights: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        for language, _ in self.weights:
            if language != CODE and language not in NAMED_LANGUAGES:
                raise ValueError(f"{self.regex!r}: unknown language {language!r}")


def _s(regex: str, **weights: float) -> Signal:
    return Signal(regex, tuple(weights.items()))


_C_FAMILY = {"c": 0.4, "cpp": 0.4, "java": 0.4, "csharp": 0.4, "javascript": 0.4, "php": 0.3}
_HEADERS = "iostream|vector|string|map|memory|algorithm|unordered_map|set|thread|fstream|sstream"
_CPP_HEADERS = _HEADERS + "|queue|utility|functional|array|chrono|mutex|cstdio|cstdlib|cstring"
_SHELL_TOOLS = "sudo|apt-get|apt|yum|dnf|brew|pip3?|npm|npx|yarn|docker|kubectl|chmod|chown|"
_SHELL_TOOLS += "mkdir|systemctl|ssh|scp|wget|curl|pacman|conda|helm|terraform"
_CSS_PROPS = "color|background(-[a-z]+)?|margin(-[a-z]+)?|padding(-[a-z]+)?|font(-[a-z]+)?|"
_CSS_PROPS += "display|position|width|height|border(-[a-z]+)?|text-[a-z]+|flex(-[a-z]+)?|"
_CSS_PROPS += "align-items|justify-content|z-index|overflow|opacity|transition|transform|"
_CSS_PROPS += "box-shadow|line-height|cursor|grid(-[a-z]+)*|max-width|min-height|gap"
_HTML_TAGS = "html|head|body|div|span|p|a|ul|ol|li|table|tr|td|th|form|input|button|img|"
_HTML_TAGS += "script|style|link|meta|nav|header|footer|section|article|h[1-6]|label|select|"
_HTML_TAGS += "option|textarea|iframe|main|template"

SIGNALS: tuple[Signal, ...] = (
    # --- structure shared by many languages -------------------------------------------
    _s(r"(?m)[;{][ \t]*$", code=1.2),
    _s(r"(?m)^[ \t]*\}[ \t]*(else\b|catch\b|while\b|;|,|\))?", code=1.0),
    _s(r"[A-Za-z_\])]\.[A-Za-z_]\w*\(", code=0.7),
    _s(r"[A-Za-z_]\w*\([^()\n]*\)", code=0.3),
    # comparisons between operands, not a run of "=" (a Markdown "=====" underline)
    _s(r"(?:^|[^=!<>])(?:===?|!==?)(?:[^=]|$)|<=|>=|&&|\|\||\+\+|\+=|-=", code=0.6),
    _s(r"(?m)^[ \t]*(//|/\*|\*/)", code=0.6),
    _s(r"\b[a-z]+_[a-z0-9]+(_[a-z0-9]+)*\b", code=0.4),
    _s(r"\b[a-z]+[A-Z][a-zA-Z]*\(", code=0.6),
    _s(r"(?m)^( {2,}|\t)[^ \t\n]", code=0.4),
    _s(r"(?m)^[ \t]*return\b", code=0.8),
    _s(r"(?m)^[ \t]*(if|for|while|switch) ?\(", code=1.0),
    _s(r"(?m)^[ \t]*(else|try|do|finally)[ \t]*\{?[ \t]*$|\} ?else ?\{", code=1.0),
    _s(r"[\w\]] = [\w\"'\[{(]", code=0.3),
    _s(r"\w\[[\w\"' +\-]*\]", code=0.4),
    _s(r"(?m);[ \t]*$", **_C_FAMILY, typescript=0.4, rust=0.3),
    # configuration is not code: JSON key lines pull the structure score down
    _s(r"(?m)^[ \t]*\"[\w.@/-]+\"[ \t]*:[ \t]*[\"\d\[{tfn-]", code=-2.5),
    # --- python ----------------------------------------------------------------------
    _s(r"(?m)^[ \t]*(async )?def [A-Za-z_]\w*[ \t]*\(.*\)[ \t]*(->.*)?:[ \t]*(#.*)?$", python=3),
    _s(r"(?m)^[ \t]*class [A-Z]\w*(\(.*\))?:[ \t]*$", python=2.5),
    _s(
        r"(?m)^[ \t]*(from [A-Za-z_.][\w.]* import [\w*(, ]+|import [a-z_][\w.]*( as \w+)?)$",
        python=2.5,
    ),
    _s(r"\bself\.[a-z_]\w*", python=1.2, ruby=0.3, swift=0.4),
    _s(r"(?m)^[ \t]*(if|elif|while|for|with|try|except|else|finally)\b[^\n]*:[ \t]*$", python=1.5),
    _s(r"(?m)^[ \t]*elif\b|\bexcept [A-Z]\w*( as \w+)?:", python=2),
    _s(r"[=(,\[] ?(None|True|False)\b|\b(is|return|==) (None|True|False)\b", python=1.0),
    _s(r"\"\"\"|'''", python=1.0),
    _s(r"\b(len|range|enumerate|isinstance|zip|sorted|str|int|list|dict)\(", python=0.8),
    _s(r"\bprint\(", python=0.8, swift=0.3),
    _s(r"\blambda [\w, ]*:", python=1.5),
    _s(r"(?m)^[ \t]*@[a-z_][\w.]*(\(.*\))?[ \t]*$", python=1.0),
    _s(r"\bf\"[^\"\n]*\{|\bf'[^'\n]*\{", python=1.0),
    _s(r"\.(append|items|keys|values|split|join|strip)\(", python=0.8),
    _s(r"__(init|name|main|str|repr|len)__", python=2.5),
    _s(r"\bis not None\b|\bnot in \w", python=0.8),
    _s(r"\[[^\]\n]* for \w+(, \w+)? in [^\]\n]*\]", python=2),
    _s(r"(?m)^>>> ", python=2),
    _s(r"#!/usr/bin/(env )?python", python=4),
    _s(r"(?m)^[ \t]*(pass|raise( \w+)?)[ \t]*$|(?m)^[ \t]*raise [A-Z]\w*\(", python=1.5),
    _s(r"\) -> [A-Za-z&\[]", python=0.6, rust=1.0, swift=1.0),
    # --- javascript / typescript -----------------------------------------------------
    _s(
        r"\bfunction\*?[ \t]+[A-Za-z_$][\w$]*[ \t]*\([^$)\n]*\)[ \t]*\{",
        javascript=2.5,
        typescript=2,
    ),
    _s(r"\bfunction[ \t]*\(", javascript=1.5, typescript=1.0),
    _s(r"(?m)^[ \t]*(export )?const [A-Za-z_$][\w$]*( = |: )", javascript=2, typescript=1.8),
    _s(
        r"(?m)^[ \t]*(let|var) [A-Za-z_$][\w$]* = ",
        javascript=1,
        typescript=0.8,
        swift=0.8,
        csharp=0.6,
        kotlin=0.5,
    ),
    _s(r"(\)|\b\w+) => ", javascript=1.5, typescript=1.5, csharp=0.8),
    _s(r"\bconsole\.(log|error|warn|info)\(", javascript=2.5, typescript=2),
    _s(r"\b(document|window)\.[a-zA-Z]\w*", javascript=1.5, typescript=1.0),
    _s(r"\brequire\(['\"]", javascript=2),
    _s(r"(?m)^[ \t]*import [^\n]* from ['\"]", javascript=2, typescript=2),
    _s(r"\bmodule\.exports\b|\bexports\.\w+ = ", javascript=2.5),
    _s(r"(?:^|[^=!])(?:===|!==)(?:[^=]|$)", javascript=1.5, typescript=1.5, php=1.0),
    _s(r"\.then\(|\basync function\b|\bawait \w", javascript=1.0, typescript=1.0, csharp=0.3),
    _s(r"\$\(['\"]|\b(addEventListener|getElementById|querySelector(All)?)\(", javascript=2),
    _s(r"\bJSON\.(parse|stringify)\(", javascript=2, typescript=1.5),
    _s(r"\bundefined\b", javascript=0.6, typescript=0.6),
    _s(r"\bclassName=|\breturn \(\n?[ \t]*<[A-Za-z]", javascript=2, typescript=1.5),
    _s(
        r"(?m)^[ \t]*(export )?interface [A-Z]\w*(<[^>\n]*>)? (extends [\w, <>]+ )?\{",
        typescript=2,
        java=0.8,
        csharp=0.6,
    ),
    _s(r"(?m)^[ \t]*(export )?type [A-Z]\w*(<[^>\n]*>)? = ", typescript=2.5),
    _s(r"\b\w+\??: (string|number|boolean|any|void|unknown|never)\b", typescript=2.5),
    _s(r"\): (string|number|boolean|void|any|Promise<)", typescript=2.5),
    _s(r"\b(private|public|protected|readonly) \w+\??: ", typescript=1.5),
    _s(r"\bas (string|number|any|const|unknown)\b|\bimport type\b|: React\.FC", typescript=2),
    _s(r"@(Component|Injectable|Input|Output|NgModule)\(", typescript=2),
    # --- java ------------------------------------------------------------------------
    _s(
        r"\bpublic (static )?(final )?(void|int|String|boolean|long|double|class) \w+",
        java=2,
        csharp=1.0,
    ),
    _s(r"\bpublic static void main\(String\[\] \w+\)|\bSystem\.(out|err)\.print", java=4),
    _s(r"(?m)^[ \t]*import (java|javax|org|com|android|androidx)\.[\w.*]+;", java=3),
    _s(r"(?m)^[ \t]*package [a-z][\w.]*;", java=3),
    _s(
        r"@(Override|Autowired|Test|SpringBootApplication|Entity|Bean|Service)\b",
        java=2,
        kotlin=0.5,
    ),
    _s(
        r"\bnew [A-Z]\w*(<[\w<>, ?]*>)?\(",
        java=1.0,
        csharp=1.0,
        javascript=0.5,
        typescript=0.5,
        php=0.5,
        cpp=0.3,
    ),
    _s(r"\bString\[\]|\b(ArrayList|HashMap|HashSet|LinkedList)<", java=1.5),
    _s(
        r"\bextends [A-Z]\w*( implements [\w, ]+)? \{|\bimplements [A-Z]\w*",
        java=1.5,
        typescript=0.5,
        php=0.5,
    ),
    _s(r"\bthrows [A-Z]\w*(Exception|Error)\b", java=2),
    _s(r"\bprivate (final |static )*[A-Z]\w*(<[^>\n]*>)? \w+;", java=1.5, csharp=1.0),
    # --- c / c++ ---------------------------------------------------------------------
    _s(r"(?m)^[ \t]*#[ \t]*include[ \t]*<[\w/]+\.h>", c=3, cpp=1.8),
    _s(r"(?m)^[ \t]*#[ \t]*include[ \t]*\"[\w/.]+\"", c=2, cpp=1.5),
    _s(r"(?m)^[ \t]*#(define|ifdef|ifndef|endif|pragma|undef)\b", c=2, cpp=1.5),
    _s(r"\bint main[ \t]*\(", c=2, cpp=2),
    _s(
        r"\b(printf|fprintf|scanf|sprintf|snprintf|malloc|calloc|realloc|free|memcpy|memset|"
        r"strlen|strcmp|strcpy|strncpy|fopen|fclose)\(",
        c=2,
        cpp=0.8,
        php=0.3,
    ),
    _s(r"\bstruct [a-z_]\w* ?(\{|\*)", c=1.5, cpp=0.8),
    _s(r"\btypedef\b", c=2, cpp=1.0),
    _s(r"\b(unsigned|size_t|uint8_t|uint32_t|int32_t|uint64_t)\b|\b(char|void) \*", c=1.5, cpp=1.0),
    _s(r"\bNULL\b", c=0.6, cpp=0.3, sql=0.5),
    _s(r"\w->\w", c=1.0, cpp=1.0, php=1.5),
    _s(r"\bsizeof ?\(", c=1.5, cpp=1.0),
    _s(
        r"\bstd::(cout|cin|cerr|endl|vector|string|map|unordered_map|set|unique_ptr|shared_ptr|size_t|move|sort|pair|array|thread|mutex|optional|function)\b",
        cpp=3,
    ),
    _s(rf"(?m)^[ \t]*#[ \t]*include[ \t]*<({_CPP_HEADERS})>", cpp=3),
    _s(r"\b(cout|cerr|clog) ?<<|\bcin ?>>", cpp=3),
    _s(r"\btemplate ?<", cpp=2.5),
    _s(r"\busing namespace [\w:]+;", cpp=3),
    _s(
        r"\b(nullptr|constexpr|noexcept|static_cast|dynamic_cast|reinterpret_cast|unique_ptr|"
        r"shared_ptr|make_shared|make_unique)\b",
        cpp=2.5,
    ),
    _s(r"(?m)^[ \t]*(public|private|protected):[ \t]*$", cpp=2.5),
    _s(r"\bauto [&*]?\w+ = |\bconst \w+&", cpp=1.5),
    _s(r"\w::[A-Za-z_~]", cpp=0.8, rust=0.8, php=0.4, ruby=0.2),
    # --- c# --------------------------------------------------------------------------
    _s(r"(?m)^[ \t]*using (System|Microsoft)[\w.]*;", csharp=3),
    _s(r"(?m)^[ \t]*using [A-Z][\w.]*;", csharp=1.5),
    _s(r"\bConsole\.(Write|WriteLine|ReadLine)\(", csharp=3),
    _s(r"\{ ?get; ?((private|protected|internal|init) )?(set; ?)?\}", csharp=3),
    _s(
        r"\b(public|private|protected|internal) (static |async |override |virtual )*string\b",
        csharp=1.5,
    ),
    _s(r"\binternal (class|static|sealed)\b|\bsealed class\b|\bpartial class\b", csharp=2.5),
    _s(r"\basync Task\b|\bTask<\w", csharp=2),
    _s(r"(?m)^[ \t]*namespace [A-Z][\w.]*[ \t]*(\{|;)?[ \t]*$", csharp=1.5, cpp=0.5, php=0.5),
    _s(r"\bvar \w+ = new\b", csharp=1.5, java=0.5),
    _s(r"\[(HttpGet|HttpPost|Route|Serializable|Fact|TestMethod|ApiController)[\]\(]", csharp=2),
    _s(r"\bforeach ?\(var ", csharp=2.5),
    _s(r"\.ToString\(\)|\bstring\.(Empty|Format|IsNullOrEmpty|Join)\b", csharp=2),
    # --- go --------------------------------------------------------------------------
    _s(r"(?m)^package main[ \t]*$", go=3),
    _s(r"(?m)^package [a-z]\w*[ \t]*$", go=1.5, kotlin=0.5),
    _s(r"(?m)^func (\(\w+ \*?\w+\) )?[A-Za-z_]\w*\(", go=2.5, swift=0.8),
    _s(r"(?m)^func \(\w+ \*?[A-Za-z]\w*\)", go=3),
    _s(r":=", go=1.5, python=0.2),
    _s(r"\bfmt\.(Print|Sprint|Fprint|Errorf)", go=3),
    _s(r"\berr != nil\b", go=3),
    _s(r"(?m)^import \($", go=2.5),
    _s(r"\bgo func\b|\bchan \w|<-\w|\w <- ", go=2),
    _s(r"\bmap\[string\]|\[\](string|byte|int|float64)\b", go=2.5),
    _s(r"\btype \w+ (struct|interface) \{|\bstruct \{", go=3),
    _s(r"\bnil\b", go=1.0, ruby=0.8, swift=0.6),
    _s(r"\bdefer \w", go=1.0, swift=0.5),
    # --- rust ------------------------------------------------------------------------
    _s(r"(?m)^[ \t]*(pub(\(crate\))? )?(async )?fn [a-z_]\w*(<[^>\n]*>)?\(", rust=3),
    _s(r"\blet mut \w", rust=3),
    _s(r"\bimpl(<[^>\n]*>)? [A-Z]\w*", rust=2.5),
    _s(r"\b(println|eprintln|format|vec|panic|assert_eq|assert|writeln|write)!\(|\bvec!\[", rust=3),
    _s(r"(?m)^[ \t]*use (std|crate|super|self|[a-z_]+)::", rust=3),
    _s(r"\b(Option|Result|Vec|Box|Rc|Arc|HashMap)<", rust=1.5),
    _s(r"&self\b|&mut \w|&str\b|\.unwrap\(\)|\bSome\(|\bOk\(", rust=2.5),
    _s(r"#\[(derive|test|cfg|allow)\b", rust=3),
    _s(r"\bmatch [\w.&]+ \{", rust=2),
    _s(r"\bpub (struct|enum|mod|trait)\b|(?m)^[ \t]*mod \w+;", rust=2.5),
    _s(r"\b(i32|i64|u8|u16|u32|u64|usize|isize|f64|f32)\b", rust=1.5),
    _s(r"\bif let (Some|Ok|Err)\(", rust=2.5),
    # --- php -------------------------------------------------------------------------
    _s(r"<\?php", php=4),
    _s(r"\$[a-zA-Z_]\w* ?= ", php=1.5, powershell=1.0),
    _s(r"\$this->", php=3),
    _s(r"\bfunction \w*\(\$", php=3),
    _s(r"(?m)^[ \t]*(echo|print) ['\"$]", php=1.0, shell=1.0),  # noqa: S604 (the language, not a subprocess flag)
    _s(r"\b(public|private|protected)( static)? function\b", php=3),
    _s(r"(?m)^[ \t]*namespace [A-Z][\w\\]*;|\buse [A-Z]\w*\\", php=2.5),
    _s(
        r"\b(array|isset|unset)\(|\bempty\(\$|\bforeach ?\(\$|\$_(GET|POST|SERVER|SESSION)\b",
        php=2.5,
    ),
    _s(r"'\w+' => ", php=1.0, ruby=0.6),
    # --- ruby ------------------------------------------------------------------------
    _s(r"(?m)^[ \t]*def (self\.)?[a-z_]\w*[?!]?(\([^)\n]*\))?[ \t]*$", ruby=2),
    _s(r"(?m)^[ \t]*end[ \t]*$", ruby=1.5),
    _s(r"\bputs[ (]", ruby=2),
    _s(r"\bdo \|\w+(, ?\w+)*\||\.each(_with_index)? ?\{ ?\|", ruby=3),
    _s(r"\battr_(accessor|reader|writer) :", ruby=3),
    _s(r"(?m)^[ \t]*(require|require_relative) ['\"]", ruby=2.5),
    _s(r"(?m)^[ \t]*(module|class) [A-Z]\w*( < [A-Z][\w:]*)?[ \t]*$", ruby=2),
    _s(r"(?m)^[ \t]*@[a-z_]\w* = ", ruby=1.5),
    _s(r"\belsif\b", ruby=3),
    _s(r"(?m)^[ \t]*unless ", ruby=1.5),
    _s(r"#\{[^}\n]+\}", ruby=2),
    _s(r"\.nil\?|\.empty\?|\.each\b|:\w+ => ", ruby=1.5),
    # --- kotlin ----------------------------------------------------------------------
    _s(
        r"(?m)^[ \t]*((private|public|internal|override|suspend|inline|open|abstract) )*"
        r"fun (<[^>\n]*> )?[a-zA-Z_][\w.]*\(",
        kotlin=3,
    ),
    _s(r"\bval \w+(: [A-Z][\w<>?, ]*)? = ", kotlin=2.5),
    _s(r"\bvar \w+: [A-Z]\w*\??( = |$)", kotlin=1.5, swift=1.5),
    _s(
        r"\bdata class\b|\bcompanion object\b|\bsealed class\b|\blateinit var\b|\bsuspend fun\b",
        kotlin=3,
    ),
    _s(r"(^|[^.\w])println\(", kotlin=2),
    _s(r"\?\.|\?: |!!\.", kotlin=1.5, swift=1.0, typescript=0.5, javascript=0.5, csharp=0.5),
    _s(r"\bwhen ?(\([^)\n]*\) )?\{", kotlin=2.5),
    _s(r"\b(listOf|mutableListOf|mapOf|mutableMapOf|setOf|arrayOf)\(", kotlin=3),
    _s(r"\bit\.\w", kotlin=1.0),
    _s(r": (Int|String|Boolean|Unit|Long|Double|Bool)\b", kotlin=1.0, swift=1.0),
    # --- swift -----------------------------------------------------------------------
    _s(r"(?m)^[ \t]*import (UIKit|Foundation|SwiftUI|Combine|XCTest|AppKit)[ \t]*$", swift=4),
    _s(r"\bguard (let|var) |\bif let \w+ = ", swift=3),
    _s(r"\bfunc \w+\([^)\n]*\) -> [A-Z]|\bfunc \w+\((_ )?\w+: ", swift=2.5),
    _s(r"\bstruct \w+: (View|Codable|Equatable|Hashable|Identifiable)\b", swift=3),
    _s(
        r"@(State|Published|Binding|ObservedObject|EnvironmentObject|IBOutlet|IBAction|objc|"
        r"MainActor)\b",
        swift=3,
    ),
    _s(r"\blet \w+: [A-Z]\w*", swift=1.5, typescript=0.3),
    _s(r"\bvar body: some View\b", swift=4),
    _s(r"\\\([a-z]\w*\)", swift=2),
    _s(r"\b(extension|protocol) [A-Z]\w*( ?: ?[A-Z][\w, ]*)? \{", swift=2.5),
    # --- sql -------------------------------------------------------------------------
    _s(r"\bSELECT [^\n]*\bFROM\b", sql=3),
    _s(r"(?m)^[ \t]*SELECT\b", sql=1.5),
    _s(r"(?m)^[ \t]*FROM [\w.\"`\[]+", sql=1.5),
    _s(
        r"(?im)^[ \t]*select [\w., *()]+ from [a-z_]\w*(\.[a-z_]\w*)?[ \t]*"
        r"(;|$| where\b| join\b| order by\b| group by\b| limit\b)",
        sql=2,
    ),
    _s(
        r"(?i)\binsert into \w+|\bdelete from \w+|\bupdate \w+ set \w+ ?=|"
        r"\b(create|alter|drop) (or replace )?(table|index|unique index|view|database|schema|"
        r"function|procedure|trigger|sequence|type|domain|extension)\b",
        sql=3,
    ),
    _s(
        r"(?m)^[ \t]*-- |\bRETURNS (SETOF )?\w+|\bLANGUAGE (C|plpgsql|sql)\b|\bGRANT \w+ ON\b",
        sql=1.5,
    ),
    _s(
        r"\b(INNER|LEFT|RIGHT|OUTER|FULL) JOIN\b|\bGROUP BY\b|\bORDER BY\b|\bPRIMARY KEY\b|"
        r"\bVARCHAR\b|\bNOT NULL\b|\bWHERE \w+(\.\w+)? ?(=|IN\b|LIKE\b|IS\b|>|<)",
        sql=2,
    ),
    _s(r"(?i)\b(inner|left) join\b|\bcount\(\*\)|\bvarchar\(", sql=1.0),
    # --- shell -----------------------------------------------------------------------
    _s(r"(?m)^#!/(usr/)?bin/(env )?(ba|z|k|da)?sh\b", shell=4),  # noqa: S604 (the language, not a subprocess flag)
    _s(r"(?m)^[ \t]*\$ [a-z]", shell=2.5),  # noqa: S604 (the language, not a subprocess flag)
    _s(rf"(?m)^[ \t]*(\$ )?({_SHELL_TOOLS}) [-\w./~$\"']", shell=2),  # noqa: S604 (the language, not a subprocess flag)
    _s(  # noqa: S604 (the language, not a subprocess flag)
        r"(?m)^[ \t]*(ls|cd|cat|grep|rm|cp|mv|find|sed|awk|tar|echo|export|source|git|make|"
        r"python3?|node|go|cargo) (-{1,2}\w|[./~$\"']|[a-z][\w.-]* )",
        shell=1.5,
    ),
    _s(r"\| ?(grep|awk|sed|xargs|sort|uniq|head|tail|wc|tee|cut|tr)\b", shell=2.5),  # noqa: S604 (the language, not a subprocess flag)
    _s(  # noqa: S604 (the language, not a subprocess flag)
        r"(?m)^[ \t]*(if|while|until) \[\[? |(?m)^[ \t]*(fi|done|esac)[ \t]*$|; (then|do)$", shell=3
    ),
    _s(r"\$\([a-z]+ |\$\{\w+(:-[^}\n]*)?\}", shell=2, javascript=0.5),  # noqa: S604 (the language, not a subprocess flag)
    _s(r"2>&1|/dev/null|\|\| exit\b", shell=2.5),  # noqa: S604 (the language, not a subprocess flag)
    _s(r"(?m)^[ \t]*(export|local|readonly|declare) [A-Za-z_]\w*=", shell=2.5),  # noqa: S604 (the language, not a subprocess flag)
    _s(r" -(eq|ne|gt|lt|ge|le|z|n|f|d) ", shell=1.0, powershell=1.0),  # noqa: S604 (the language, not a subprocess flag)
    # --- powershell ------------------------------------------------------------------
    _s(
        r"\b(Get|Set|New|Remove|Add|Write|Read|Invoke|Start|Stop|Import|Export|Test|Select|"
        r"Where|ForEach|Out|ConvertTo|ConvertFrom|Format|Sort)-[A-Z][a-zA-Z]+\b",
        powershell=3,
    ),
    _s(r"\$(true|false|null|_|PSScriptRoot|PSVersionTable)\b|\$env:\w", powershell=2.5),
    _s(r" -(eq|ne|gt|lt|ge|le|like|match|contains|and|or|not) [$'\"\w]", powershell=1.0),
    _s(r"\[(string|int|bool|switch|array|hashtable|PSCustomObject)\]\$", powershell=3),
    _s(r"(?m)^[ \t]*param ?\(", powershell=2),
    _s(
        r" -(Path|Name|Force|Recurse|ErrorAction|Filter|Value|ComputerName|Credential)\b",
        powershell=1.5,
    ),
    # --- perl ----------------------------------------------------------------------
    _s(r"\bmy [$@%]\w+|\buse (strict|warnings);|(?m)^[ \t]*sub \w+ ?\{", perl=3),
    _s(r" =~ [ms]?/|\$_\[\d\]|@_\b|(?m)^__(END|DATA)__$", perl=2.5),
    # --- html / css ------------------------------------------------------------------
    _s(r"(?i)<!doctype html", html=4),
    _s(rf"<({_HTML_TAGS})( [^<>\n]*)?/?>", html=1.5),
    _s(rf"</({_HTML_TAGS})>", html=1.5),
    _s(r" (class|id|href|src|style|type|rel|onclick)=\"[^\"\n]*\"", html=1.5),
    _s(r"<!--", html=1.0),
    _s(
        r"(?m)^[ \t]*[.#]?[a-zA-Z][\w-]*([ \t]*[,>+~ ]"
        r"[ \t]*[.#]?[\w-]+)*(:[a-z-]+)?[ \t]*\{[ \t]*$",
        css=1.0,
    ),
    _s(rf"(?m)^[ \t]*({_CSS_PROPS})[ \t]*:[ \t]*[^;{{}}\n]+;", css=3),
    _s(r"\d(px|em|rem|vh|vw)\b|#[0-9a-fA-F]{3,6};|rgba?\(", css=1.5),
    _s(r"@media |@import url|@keyframes |@font-face", css=3),
    _s(rf"\{{[ \t]*({_CSS_PROPS})[ \t]*:[^;{{}}\n]+;", css=2.5),
    _s(r"[a-z]:(hover|focus|active|nth-child|first-child|last-child|before|after)\b", css=1.5),
)

GATE: str = "|".join(
    (
        r"\{[ \t]*\n|\n[ \t]*\}|\{\}|\$\{|\w\{|\{[ \t]*[a-z-]+[ \t]*:",
        r"[A-Za-z_]\((\)|[\"'\[${]|[A-Za-z_]\w+[,)=.\[(]|\d+[,)])",
        r"[=<>!+*/%&|^-]=|=>|->|::|:=|&&|\|\||\w(\+\+|--)|\w\[|[A-Za-z_]\.[A-Za-z_]\w*\(|\);",
        r"(?m)^[ \t]*[\w.\[\]]+ = |(?m)^(\t| {4})[^ \t\n]",
        rf"<(/?({_HTML_TAGS})\b|!--|![Dd][Oo][Cc][Tt][Yy][Pp][Ee]|\?php)",
        r"\$[A-Za-z_{(]|(?m)^\$ |#(include|define|!)|#\[|\"\"\"|'''|\bSELECT\b",
        r"\b(Get|Set|New|Remove|Add|Write|Invoke|Start|Stop|Import|Export|Test|Select|Where|"
        r"ForEach|Out|ConvertTo|ConvertFrom)-[A-Z]|\| ?(grep|awk|sed|xargs|sort|uniq|head|tail|"
        r"wc|tee|cut|tr|less|jq)\b",
        r"(?m)^[ \t]*(def|class|import|from|fn|func|fun|let|const|var|val|public|private|package|"
        r"use|using|return|if|for|while|select|insert|create|update|delete|alter|drop|sudo|pip|"
        r"npm|git|docker|curl|ls|cd|echo|cat|grep|end|fi|done|puts|print|struct|impl|type|"
        r"interface|export|async|try|catch|except|elif|else|module|require|my|sub|"
        r"ALTER|CREATE|DROP|INSERT|UPDATE|DELETE|RETURNS|GRANT|WITH|FROM|WHERE)\b",
    )
)
"""A cheap screen: a chunk matching none of these is prose, whatever ``SIGNALS`` say.

One unanchored RE2 search that stops at the first hit; it spares prose the full set pass,
whose DFA is large and slow to warm up on text it has not seen."""

FENCE_TAGS: Mapping[str, str] = {
    **{tag: "python" for tag in ("python", "py", "python3", "py3", "pycon", "ipython")},
    **{tag: "javascript" for tag in ("javascript", "js", "jsx", "node", "mjs", "nodejs")},
    **{tag: "typescript" for tag in ("typescript", "ts", "tsx")},
    "java": "java",
    **{tag: "c" for tag in ("c", "h")},
    **{tag: "cpp" for tag in ("cpp", "c++", "cc", "cxx", "hpp")},
    **{tag: "csharp" for tag in ("csharp", "cs", "c#")},
    **{tag: "go" for tag in ("go", "golang")},
    **{tag: "rust" for tag in ("rust", "rs")},
    "php": "php",
    **{tag: "ruby" for tag in ("ruby", "rb")},
    **{tag: "kotlin" for tag in ("kotlin", "kt", "kts")},
    "swift": "swift",
    **{tag: "sql" for tag in ("sql", "mysql", "postgresql", "postgres", "plsql", "tsql")},
    **{tag: "shell" for tag in ("sh", "bash", "shell", "zsh", "console", "shell-session")},
    **{tag: "powershell" for tag in ("powershell", "ps1", "pwsh", "ps")},
    **{tag: "html" for tag in ("html", "htm", "xhtml", "vue", "svelte")},
    **{tag: "css" for tag in ("css", "scss", "sass", "less")},
}
"""Fenced-block tags (lower case) naming a language we report."""

NOT_CODE_TAGS: frozenset[str] = frozenset(
    {
        "text",
        "txt",
        "plaintext",
        "plain",
        "markdown",
        "md",
        "yaml",
        "yml",
        "json",
        "jsonc",
        "toml",
        "ini",
        "xml",
        "csv",
        "env",
        "dotenv",
        "properties",
        "log",
        "diff",
        "output",
    }
)
"""Fenced-block tags for prose, configuration and data: judged by content alone."""
