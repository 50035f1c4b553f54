"""Weights of the legal detector, written by scripts/train_document_detectors.py.

Do not edit by hand: change ``legal_signals.SIGNALS`` and rerun the script. The
detector uses these only while ``SIGNATURE`` matches the rows (else the priors).
"""

from __future__ import annotations

PRIOR_BIAS = -1.5
PRIOR_SHALL = 1.5
PRIOR_FORMAL = 1.8
SIGNATURE = "1509c8c58895e4cc"
BIAS = -1.5133
SHALL = 0.7484
FORMAL = 1.8232
WEIGHTS: tuple[float, ...] = (
    1.7869,  # prior 2.5: \b[Tt]his (Agreement|Contract|Amendment|Lease|License|Addendum|Schedul...
    0.5573,  # prior 1.0: (?i)\bthis agreement\b
    2.2866,  # prior 2.0: \b(either|each|both|such|other|neither|any|a|the|non-breaching|breachi...
    1.2015,  # prior 1.5: (?i)\b(either|each|both|neither) part(y|ies)\b|\bthe parties hereto\b
    1.3056,  # prior 2.0: \((the )?[\"“][A-Z][\w .,&'/-]*[\"”]\)
    2.9012,  # prior 2.5: [\"“][A-Z][\w .,&'/-]*[\"”],? (shall )?(means?|refers? to|has the mean...
    2.2110,  # prior 2.0: (?i)\bhere(of|to|under|inafter|inbefore)\b
    1.6684,  # prior 1.0: (?i)\bhere(in|by|with)\b
    1.0246,  # prior 0.8: (?i)\bthere(of|under|to|in|with)\b
    1.5877,  # prior 1.2: (?i)\b(licensor|licensee|lessor|lessee|assignor|assignee|grantor|grant...
    0.6195,  # prior 1.5: \bshall\b
    1.7735,  # prior 1.0: (?i)\bshall (not|be|have|pay|provide|use|notify|remain|survive|indemni...
    1.4479,  # prior 1.0: (?i)\b(agrees?|undertakes?|covenants?) (to|that|not to)\b
    1.1047,  # prior 1.0: \b[A-Z][A-Za-z]+('s)? (will|shall|must|may) (not )?(be )?[a-z]{3,}
    1.5086,  # prior 1.5: (?i)\b(organi[sz]ed|incorporated|existing) under the laws of\b|\bunder...
    1.5024,  # prior 1.5: (?i)\bhereby (grants?|agrees?|acknowledges?|assigns?|appoints?|certif(...
    1.5627,  # prior 1.5: (?i)\bshall be (deemed|entitled|responsible|liable|binding)\b
    1.0246,  # prior 1.0: (?i)\b(is|are) entitled to\b|\bin (its|their) sole discretion\b
    3.0090,  # prior 3.0: (?i)\bin witness whereof\b
    1.5805,  # prior 1.5: (?i)\bnotwithstanding\b
    2.7624,  # prior 2.5: \bWHEREAS\b|(?i)\bnow,? therefore\b
    2.4990,  # prior 2.5: (?i)\bgoverned by,? and construed in accordance with\b|\bgoverned by t...
    1.5174,  # prior 1.5: (?i)\bgoverning law\b|\bexclusive jurisdiction\b|\bbinding arbitration\b
    1.8263,  # prior 1.5: (?i)\bindemnif(y|ied|ies|ication)\b|\bhold harmless\b
    2.0104,  # prior 2.0: (?i)\bterminat(e|ion of) (this|the) (agreement|contract|lease|license)\b
    1.5135,  # prior 1.5: (?i)\bprior written (consent|notice|approval)\b|\bupon written notice\b
    1.0633,  # prior 0.8: (?i)\bpursuant to\b|\bin accordance with\b
    1.7025,  # prior 1.5: (?i)\bsubject to the terms\b|\bset forth (in|herein|below|above|on)\b
    1.5152,  # prior 1.5: (?i)\bprovided,? however\b|\bprovided that\b
    2.0441,  # prior 2.0: (?i)\brepresentations? and warrant(y|ies)\b|\brepresents and warrants\b
    1.6457,  # prior 1.5: (?i)\bconfidential information\b|\bforce majeure\b|\bentire agreement\b
    2.0121,  # prior 2.0: (?i)\bbinding upon\b|\binure to the benefit\b|\bsuccessors and (permit...
    1.5329,  # prior 1.5: (?i)\bexecuted in (one or more |any number of )?(counterparts|duplicat...
    1.6096,  # prior 1.5: (?i)\bin no event shall\b|\bshall not be liable\b|\blimitation of liab...
    1.5136,  # prior 1.5: (?i)\b(non-?exclusive|exclusive|non-?transferable|royalty-free|irrevoc...
    0.7475,  # prior 0.8: (?i)\bsublicens|\broyalt(y|ies)\b
    1.8488,  # prior 1.5: (?i)\bwithout limitation\b|\bincluding,? but not limited to\b|\bfor th...
    1.0790,  # prior 1.0: (?i)\b(material(ly)? breach|breach(es)? of (this|any))\b
    1.8789,  # prior 1.0: (?i)\b(effective date|commencement date|expiration date|closing date|t...
    1.2743,  # prior 1.0: (?i)\b(the )?undersigned\b
    2.2636,  # prior 2.0: \b[A-Za-z-]+ \(\d+\) (calendar |business )?(days|months|years)\b
    1.9059,  # prior 0.8: \[\*+\]
    0.7825,  # prior 1.5: (?i)\bany and all\b|\bfrom time to time\b|\bas amended\b|\bwhatsoever\b
    1.4015,  # prior 1.0: (?i)\bwith respect to\b|\bto the extent\b|\bin the event (that|of)\b|\...
    1.0843,  # prior 0.6: (?i)\bin connection with\b|\bin respect of\b|\bprior to\b|\brespective...
    1.6632,  # prior 1.2: (?i)\bapplicable (law|laws|legislation|regulations?)\b|\bin writing\b
    2.6534,  # prior 2.5: (?i)\bby and between\b|\b(is|are) made and entered into\b|\bentered in...
    1.2930,  # prior 1.0: \bsuch [A-Z][a-z]+\b|\b(the|its|any) (Term|Territory|Affiliates?|Produ...
    0.6020,  # prior 0.8: \bthe [A-Z][a-z]+( [A-Z][a-z]+)*(,| and| or| shall| to| of| in)(?s:.*)...
    0.7903,  # prior 0.5: \b(Inc|LLC|L\.P|Ltd|Corp|N\.A|GmbH|AG|S\.A|B\.V)\.?[,)]
    1.9823,  # prior 1.0: (?m)^[ \t]*\(([a-z]|[ivx]+)\)[ \t]|; (and |or )?\(([a-z]|[ivx]+)\)
    2.0293,  # prior 1.0: \b(Attention|Attn|Facsimile|Fax|Telecopy):
    1.6784,  # prior 1.5: (?i)\bduly (organized|authori[sz]ed|executed|incorporated)\b|\bvalidly...
    1.3243,  # prior 0.3: (?m)^[ \t]*(\d{1,2}\.){1,3}\d{0,2}[ \t]+[A-Z]
    1.6084,  # prior 1.5: (?:^|  |\n)[ \t]*(\d{1,2}\.){1,3}\d{0,2}[ \t]+[A-Z][a-z]+( (of|and|[A-...
    0.0000,  # prior 1.0: (?i)\b(section|article|clause|paragraph) \d+(\.\d+)*(\([a-z]\))?\b
    1.3847,  # prior 0.5: \b(Section|Article) [IVX]+\b|\([a-z]\)[ \t]+[a-z]|\((i|ii|iii|iv|v)\)
    2.8377,  # prior 2.0: (?mi)\bBy: ?(_{3,}|/s/)|(?:^|[\s(])/s/ ?(?-i:[A-Z])
    0.3028,  # prior 0.5: (?m)(^|  )(Name|Title|Date|Its):
    2.0372,  # prior 2.0: \b(By|Name|Title|Date|Signature): ?(By|Name|Title|Date|Signature):
    1.1285,  # prior 1.0: \b(Exhibit|Schedule|Section|Article) \d+(\.\d+)*\([a-z0-9]+\)
    2.3692,  # prior 2.0: \bName: [^\n]{0,80}\bTitle: |\b(By|Signature|Name|Title): ?_{3,}
    2.0710,  # prior 2.0: (?i)\bits (general partner|managing member|sole member|attorney-in-fac...
    2.3785,  # prior 0.5: \b(?i:exhibit|schedule|annex|appendix) [A-Z0-9]{1,3}\b
    0.6889,  # prior 1.0: (?i)\byou (agree|acknowledge|represent|may not|shall)\b|\bby (accessin...
    1.0000,  # prior 1.0: (?i)\bwe (may|reserve the right to) (terminate|suspend|modify|change)\b
    1.5148,  # prior 1.5: [\"“]AS IS[\"”]|\bAS IS\b
    -2.4051,  # prior -1.5: (?m)\?[ \t\"'”]*$
    -0.7655,  # prior -1.0: \b(I|I'm|I've|my|me)\b
    -1.7369,  # prior -1.5: (?i)\b(can|could|would) you\b|\bhelp me\b|\bwhat (does|is|are)\b|\bh...
    -1.8467,  # prior -1.5: (?i)^[ \t]*(explain|write|draft|summari[sz]e|rewrite|translate|tell ...
    -1.5607,  # prior -1.5: \b(said|says|told|reported|according to|announced)\b
    -0.5229,  # prior -0.5: (?i)\b(plaintiffs?|defendants?|the court|lawsuit|jury|ruled)\b
    -3.2542,  # prior -2.0: (?i)\b(chatgpt|openai|language model|ai model|as an ai|jailbreak|rol...
    -2.7267,  # prior -2.0: (?i)\b(from now on|act as|you are going to|your (responses?|answers?...
)
