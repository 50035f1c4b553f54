"""The legal detector's evidence table: RE2 patterns for contract constructions.

Each row is one construction and its prior weight (log-odds, set by hand): about 3 for
boilerplate only contracts contain ("in witness whereof"), 1 to 2 for drafting habits
("provided, however", defined terms in quotes), under 1 for hints, negative for what
contracts do not do (ask questions, speak as "I", address a chatbot). The weights the
detector uses are fitted to labelled data around these priors by
``scripts/train_document_detectors.py`` (``legal_weights.py``); the priors keep rows the
data rarely shows from drifting.
"""

from __future__ import annotations

import hashlib

GATE = (
    r"(?i)\b(shall|agree(s|d|ment)?|part(y|ies)|here(of|in|to|by|under|inafter|with)|"
    r"there(of|under|to)|pursuant|indemni|licen[cs]|warrant|terminat|notwithstanding|whereas|"
    r"witness|liab(le|ility)|covenant|obligat|breach|contract|confidential|assign|governing|"
    r"jurisdiction|arbitrat|effective date|royalt|lessee|lessor|landlord|tenant|employer|"
    r"undersigned|/s/|terms of (service|use)|means|as defined|section \d|article|exhibit|"
    r"schedule|appendix|signature|attention:|inc\.|llc|l\.p\.|ltd|corporation|in accordance|"
    r"any and all|in writing|foregoing|title:|by:|distributor|supplier|vendor|purchaser|"
    r"deliverables?|payments?|customers?|products)"
)
_DETERMINERS = "either|each|both|such|other|neither|any|a|the|non-breaching|breaching"
_ROLES = "licensor|licensee|lessor|lessee|assignor|assignee|grantor|grantee|indemnitee|"
_ROLES += "indemnitor|franchisor|franchisee|guarantor|obligor|borrower|lender|seller|buyer"
SIGNALS: tuple[tuple[str, float], ...] = (
    # self-reference and defined terms
    (r"\b[Tt]his (Agreement|Contract|Amendment|Lease|License|Addendum|Schedule|Exhibit)\b", 2.5),
    (r"(?i)\bthis agreement\b", 1.0),
    (rf"\b({_DETERMINERS}) (Party|Parties)\b", 2.0),
    (r"(?i)\b(either|each|both|neither) part(y|ies)\b|\bthe parties hereto\b", 1.5),
    (r"\((the )?[\"“][A-Z][\w .,&'/-]*[\"”]\)", 2.0),
    (r"[\"“][A-Z][\w .,&'/-]*[\"”],? (shall )?(means?|refers? to|has the meaning)\b", 2.5),
    (r"(?i)\bhere(of|to|under|inafter|inbefore)\b", 2.0),
    (r"(?i)\bhere(in|by|with)\b", 1.0),
    (r"(?i)\bthere(of|under|to|in|with)\b", 0.8),
    (rf"(?i)\b({_ROLES})\b", 1.2),
    # obligations and permissions
    (r"\bshall\b", 1.5),
    (
        r"(?i)\bshall (not|be|have|pay|provide|use|notify|remain|survive|indemnify|maintain|"
        r"keep|deliver|make|comply|ensure|terminate|continue|mean|include|promptly|execute|"
        r"reimburse|furnish|cause|obtain|perform|grant|retain)\b",
        1.0,
    ),
    (r"(?i)\b(agrees?|undertakes?|covenants?) (to|that|not to)\b", 1.0),
    (r"\b[A-Z][A-Za-z]+('s)? (will|shall|must|may) (not )?(be )?[a-z]{3,}", 1.0),
    (r"(?i)\b(organi[sz]ed|incorporated|existing) under the laws of\b|\bunder the laws of\b", 1.5),
    (
        r"(?i)\bhereby (grants?|agrees?|acknowledges?|assigns?|appoints?|certif(y|ies)|consents?|"
        r"waives?|represents?)\b",
        1.5,
    ),
    (r"(?i)\bshall be (deemed|entitled|responsible|liable|binding)\b", 1.5),
    (r"(?i)\b(is|are) entitled to\b|\bin (its|their) sole discretion\b", 1.0),
    # boilerplate clauses
    (r"(?i)\bin witness whereof\b", 3.0),
    (r"(?i)\bnotwithstanding\b", 1.5),
    (r"\bWHEREAS\b|(?i)\bnow,? therefore\b", 2.5),
    (r"(?i)\bgoverned by,? and construed in accordance with\b|\bgoverned by the laws? of\b", 2.5),
    (r"(?i)\bgoverning law\b|\bexclusive jurisdiction\b|\bbinding arbitration\b", 1.5),
    (r"(?i)\bindemnif(y|ied|ies|ication)\b|\bhold harmless\b", 1.5),
    (r"(?i)\bterminat(e|ion of) (this|the) (agreement|contract|lease|license)\b", 2.0),
    (r"(?i)\bprior written (consent|notice|approval)\b|\bupon written notice\b", 1.5),
    (r"(?i)\bpursuant to\b|\bin accordance with\b", 0.8),
    (r"(?i)\bsubject to the terms\b|\bset forth (in|herein|below|above|on)\b", 1.5),
    (r"(?i)\bprovided,? however\b|\bprovided that\b", 1.5),
    (r"(?i)\brepresentations? and warrant(y|ies)\b|\brepresents and warrants\b", 2.0),
    (r"(?i)\bconfidential information\b|\bforce majeure\b|\bentire agreement\b", 1.5),
    (r"(?i)\bbinding upon\b|\binure to the benefit\b|\bsuccessors and (permitted )?assigns\b", 2.0),
    (
        r"(?i)\bexecuted in (one or more |any number of )?(counterparts|duplicate)\b"
        r"|\bsever(able|ability)\b",
        1.5,
    ),
    (r"(?i)\bin no event shall\b|\bshall not be liable\b|\blimitation of liability\b", 1.5),
    (
        r"(?i)\b(non-?exclusive|exclusive|non-?transferable|royalty-free|irrevocable|perpetual|"
        r"worldwide|limited),? (license|right)\b",
        1.5,
    ),
    (r"(?i)\bsublicens|\broyalt(y|ies)\b", 0.8),
    (
        r"(?i)\bwithout limitation\b|\bincluding,? but not limited to\b"
        r"|\bfor the avoidance of doubt\b",
        1.5,
    ),
    (r"(?i)\b(material(ly)? breach|breach(es)? of (this|any))\b", 1.0),
    (r"(?i)\b(effective date|commencement date|expiration date|closing date|term of this)\b", 1.0),
    (r"(?i)\b(the )?undersigned\b", 1.0),
    (r"\b[A-Za-z-]+ \(\d+\) (calendar |business )?(days|months|years)\b", 2.0),
    (r"\[\*+\]", 0.8),
    (r"(?i)\bany and all\b|\bfrom time to time\b|\bas amended\b|\bwhatsoever\b", 1.5),
    (
        r"(?i)\bwith respect to\b|\bto the extent\b|\bin the event (that|of)\b|\bas defined in\b",
        1.0,
    ),
    (r"(?i)\bin connection with\b|\bin respect of\b|\bprior to\b|\brespective(ly)?\b", 0.6),
    (r"(?i)\bapplicable (law|laws|legislation|regulations?)\b|\bin writing\b", 1.2),
    (r"(?i)\bby and between\b|\b(is|are) made and entered into\b|\bentered into as of\b", 2.5),
    (
        r"\bsuch [A-Z][a-z]+\b|\b(the|its|any) (Term|Territory|Affiliates?|Products?|Services)\b",
        1.0,
    ),
    (
        r"\bthe [A-Z][a-z]+( [A-Z][a-z]+)*(,| and| or|"
        r" shall| to| of| in)(?s:.*)\bthe [A-Z][a-z]+\b",
        0.8,
    ),
    (r"\b(Inc|LLC|L\.P|Ltd|Corp|N\.A|GmbH|AG|S\.A|B\.V)\.?[,)]", 0.5),
    (r"(?m)^[ \t]*\(([a-z]|[ivx]+)\)[ \t]|; (and |or )?\(([a-z]|[ivx]+)\) ", 1.0),
    (r"\b(Attention|Attn|Facsimile|Fax|Telecopy): ", 1.0),
    (
        r"(?i)\bduly (organized|authori[sz]ed|executed|incorporated)\b|\bvalidly existing\b|"
        r"\bin good standing\b|\bmarketable title\b|\bin all material respects\b|"
        r"\bindividually or in the aggregate\b|\bmaterial adverse (effect|change)\b|"
        r"\bconditions? precedent\b|\bas the case may be\b|\bmutatis mutandis\b|"
        r"\bnot (to )?be unreasonably (withheld|delayed|conditioned)\b|"
        r"\bat (its|their) (own|sole) (cost|expense)\b|"
        r"\b(commercially reasonable|best|reasonable) efforts\b",
        1.5,
    ),
    # layout: numbering, signatures, exhibits
    (r"(?m)^[ \t]*(\d{1,2}\.){1,3}\d{0,2}[ \t]+[A-Z]", 0.3),
    (
        r"(?:^|  |\n)[ \t]*(\d{1,2}\.){1,3}\d{0,2}[ \t]+[A-Z][a-z]+( (of|and|[A-Z][a-z]+)){0,4}\. ",
        1.5,
    ),
    (r"(?i)\b(section|article|clause|paragraph) \d+(\.\d+)*(\([a-z]\))?\b", 1.0),
    (r"\b(Section|Article) [IVX]+\b|\([a-z]\)[ \t]+[a-z]|\((i|ii|iii|iv|v)\)", 0.5),
    # a conformed signature ("/s/ Jane Doe") starts a line or follows a blank, and the
    # name is capitalised: "/s/" inside a URL (Dropbox and wiki share links, base64) is none
    (r"(?mi)\bBy: ?(_{3,}|/s/)|(?:^|[\s(])/s/ ?(?-i:[A-Z])", 2.0),
    (r"(?m)(^|  )(Name|Title|Date|Its): ", 0.5),
    (r"\b(By|Name|Title|Date|Signature): ?(By|Name|Title|Date|Signature):", 2.0),
    (r"\b(Exhibit|Schedule|Section|Article) \d+(\.\d+)*\([a-z0-9]+\)", 1.0),
    (r"\bName: [^\n]{0,80}\bTitle: |\b(By|Signature|Name|Title): ?_{3,}", 2.0),
    (
        r"(?i)\bits (general partner|managing member|sole member|attorney-in-fact)\b|"
        r"\bauthori[sz]ed (signatory|signatories|representative|officer)\b",
        2.0,
    ),
    (r"\b(?i:exhibit|schedule|annex|appendix) [A-Z0-9]{1,3}\b", 0.5),
    # terms of service
    (
        r"(?i)\byou (agree|acknowledge|represent|may not|shall)\b"
        r"|\bby (accessing|using) (the|our|this)\b",
        1.0,
    ),
    (r"(?i)\bwe (may|reserve the right to) (terminate|suspend|modify|change)\b", 1.0),
    (r"[\"“]AS IS[\"”]|\bAS IS\b", 1.5),
    # what contracts do not do
    (r"(?m)\?[ \t\"'”]*$", -1.5),
    (r"\b(I|I'm|I've|my|me)\b", -1.0),
    (
        r"(?i)\b(can|could|would) you\b|\bhelp me\b"
        r"|\bwhat (does|is|are)\b|\bhow (do|can|should) i\b",
        -1.5,
    ),
    (
        r"(?i)^[ \t]*(explain|write|draft|summari[sz]e|rewrite|translate|tell me|give me|list)\b",
        -1.5,
    ),
    (r"\b(said|says|told|reported|according to|announced)\b", -1.5),
    (r"(?i)\b(plaintiffs?|defendants?|the court|lawsuit|jury|ruled)\b", -0.5),
    (
        r"(?i)\b(chatgpt|openai|language model|ai model|as an ai|jailbreak|role-?play|pretend|"
        r"prompts?|in character|dan)\b",
        -2.0,
    ),
    (
        r"(?i)\b(from now on|act as|you are going to|your (responses?|answers?|output)|"
        r"respond(ing)? (to|as|with)|stay in|developer mode|do anything now|hello|hi)\b",
        -2.0,
    ),
)


def signature() -> str:
    """A digest of the rows' patterns: trained weights apply only to the rows they fit."""
    return hashlib.sha256("\n".join(regex for regex, _ in SIGNALS).encode()).hexdigest()[:16]
