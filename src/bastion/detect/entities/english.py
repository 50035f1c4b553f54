"""Common English words, lower-case: the taggers' main defence against capitalised noise.

A capitalised token that is usually an ordinary word ("Will", "Reading", "Grace",
"Mobile") needs more evidence to be a name or a place than one that is not ("Sarah",
"Toronto"). The list is the 6,000 most frequent lower-case English words plus the more
frequent words (top 50,000) that also occur in the name or place gazetteers, each kept
only where the lower-case form is more frequent than the capitalised one. It was derived
once from the English word frequencies in spaCy's ``spacy-lookups-data`` (MIT); this
module is data only and imports nothing.
"""

from __future__ import annotations

_WORDS = """
ab abandoned abate abilities ability able abortion abou about above abroad absence absolute
absolutely abstract absurd abuse abused abusing abusive academic accent accept acceptable
acceptance accepted accepting access accessible accident accidentally accidents accomplish
accomplished according accordingly account accounts accuracy accurate accurately accused
achieve achieved achievement achievements acid acknowledge acquire acre across act acted
acting action actions activate active actively activities activity actor actors acts actual
actually ad adapt add added addicted addiction adding addition additional address addressed
addresses addressing adds adjust adjusted admin administration admins admit admitted adopt
adopted adoption adorable ads adult adults advance advanced advantage advantages adventure
advertising advice advise advocate advocating afar affect affected affects afford affordable
afraid after afternoon afterwards again against agar age aged agencies agency agenda agent
agents ages aggression aggressive ago agree agreeing agreement agrees ahead ai aid aim aimed
aiming aina air aircraft airport aka al ala alarm alas albeit albino album albums alcohol
alcoholic ale alert alien aliens alike alive all alla alleen aller alliance allies allow
allowed allowing allows ally alma almond almost alone along alongside alot alpha already
alright also alt alta alter alternate alternative alternatives although alto altogether
always am ama amazed amazing amazingly amendment americana amet ammo amo among amongst amor
amount amounts amp amusing an anal analogy analysis ancient and anda andra angelic anger
angers angle angles angry ani animal animals animated animation anime annars annex anni
announced announcement annoyed annoying annual anon anonymous another ans answer answered
answering answers ante antelope anthem anti ants anxiety any anybody anymore anyone anything
anytime anyway anyways anywhere apart apartment apex apologies apologize app apparent
apparently appeal appealing appear appearance appeared appears apples applicable application
applications applied applies apply applying appointment appreciate appreciated approach
approaching appropriate approval approve approved approximately apps ara arbitrary arc arch
are area areas arena arenas argan arguably argue argued arguing argument arguments arm armas
armed armor armour arms army around arrest arrested arrive arrived arrogant arrow arrows art
article articles artificial artist artists arts as asa ashamed aside ask asked asker asking
asks asleep aspect aspects ass assault assertion asses assets asshole assholes assigned
assist assistance associate associated assume assumed assumes assuming assumption
assumptions assure asta aswell at ate atheism atheist atheists athletes athletic ati atleast
atm atmosphere att attached attack attacked attacking attacks attempt attempted attempting
attempts attend attention attitude attorney attract attracted attraction attractive auch
audience audio auger aun aunt aura author authority authors auto automated automatic
automatically autumn available average avi avis avoid avoided avoiding awake award aware
awareness away awesome awful awhile awkward axe ba babe babies baby back backed backer
background backing backpack backs backup backwards bacon bacteria bad badass badger badly
bag bags bai bail bait bak bake baked balance balanced bald ball balls bam ban banana band
banda bands bandwidth banes bang bank banking banks banned banning bar bara barb barber bare
barely barking barman baron barre barrel barrier barrio barrows bars bas base baseball based
basement bases bash bashing basic basically basics basil basis basketball bass bastard
bastards baster bat batch bath bathroom batteries battery battle battles baud bayo be beach
bean beans bear beard bearing bears beast beat beaten beating beats beautiful beauty became
because become becomes becoming bed bedroom bee beef been beer beers before beforehand began
begging begin beginner beginning begins behalf behave behavior behaviour behind being beings
belief beliefs believe believed believes believing belly belong belongs below belt bench
bend bender beneficial benefit benefits bent bento beside besides best beste bet beta better
betting between beyond bf bi bias biased bien big bigger biggest bigot bike bikes bil bill
billion billions bills bimbo bin binder bins biological biology bir birch bird birdie birds
birth birthday bit bitch bitches bitching bitcoin bite bits bitten bitter bizarre bla black
blacks blade blades blah blame blaming blanche blank blanket blast blatant blatantly blaze
bleeding blend blessing blew blind blink bliss block blocked blocking blocks blog blonde
blood bloody blossom blot blow blowing blown blows blue blunt board boards boat bode bodies
body bogan bogey bogo boil bok bold bologna bolt bomb bombs bona bond bondo bone boner bones
bong bonito bonnet bonus bonuses boo boobs book books boom boon boost boot booth boots booze
bor borde border borders bore bored boring born borne borrow boss bosses bot both bother
bothered bothers bots bottle bottles bottom bought bouillon bounce bound boundaries
bountiful bourgeois bout bow bowl bowler box boxes boy boyfriend boys bra bracket brackets
brain brains brake brakes branch brand brands brandy brave bread break breakdown breakfast
breaking breaks breast breasts breath breathe breathing breed breeding brewer brick bridge
bridges brief bright brilliant brim bring bringing brings brink bro broad broadcast broke
broken bronze brother brothers brought brown browse browser browsing brush brutal btw bubble
buck bucket bucks bud buddies buddy budget buena bueno buff buffs bug bugs build building
buildings builds built bulk bull bullet bullets bullshit bully bullying bump buna bunch
bundle bunk burden burger buried burn burned burning burns burnt burst bury bus business
businesses bust busy but butch butcher butt butter butterfly butthurt button buttons buy
buying buys by bye ca cabeza cable cables cabo cadence caffeine cage cake call called
calling calls calm calorie calories cam came camera cameras camp campaign camping campo
camps campus can canal canals cancel cancelled cancer candidate candidates candy cannabis
canning cannon canon cans canterbury cap capabilities capable capacity capital capitalism
capitalist caps capture captured car cara carb carbon carbs card cardio cards care cared
career careful carefully cares caring caro carpenter carpet carried carrier carries carro
carry carrying cars cart carton cartoon cas casas case cases cash cast casting castle casual
casually cat catch catching categories category cats caught cause caused causes causing cave
cayenne cdr ce cea ceiling cela celebrate celebrity cell celle cells center centered central
centre centro cents centuries century certain certainly cetera chai chain chair challenge
challenges challenging chamber chambers champ champagne champion champions championship
champs chance chances change changed changes changing channel channels chaos chapter char
character characters charge charged charges charging charity charm chart chase chasing
chastity chat che cheap cheaper cheapest cheat cheated cheating check checked checking
checks cheese cheesy chemical chemicals chemistry cherish cherry chest chia chibi chick
chicken chicks chief chihuahua child childhood childish children chill chillum chin chino
chip chips chocolate choice choices choose chooses choosing chose chosen chunk church
churches cigarette cigarettes cinnamon circle circlejerk circles circuit circumstances cis
cite cities citizen citizens city civil civilian civilians civilization claim claimed
claiming claims clan clarification clarify clarity class classes classic classical classy
clay clean cleaned cleaner cleaning clear cleared clearing clearly cleave clever click
clicked clicking client clients cliff climate climb climbing clip clips clock clone close
closed closely closer closest closet closing clothes clothing cloud clouds club clubs clue
clutch co coach coaches coaching coal coast coat cocaine cock cocoa code codes coding coffee
cognac cognitive coil coin coincidence coins coke colas cold collapse collar collard collect
collected collecting collection collective college collie colon color colored colors colour
colours comas combat combi combination combine combined combo combs come comedy comer comes
comfort comfortable comic comics coming command commands comment commentary commented
commenting comments commercial commercials commit commitment committed committing common
commonly communicate communication communist communities community commute como comp
companies company comparable compare compared comparing comparison compatible compelling
compensation compete competent competing competition competitive complain complained
complaining complaint complaints complete completed completely complex complexity
complicated compliment component components composition comprehend compromise computer
computers con concentration concept concepts concern concerned concerning concerns concert
conclusion conclusions concrete condescending condition conditions condom condoms conduct
conference confidence confident confirm confirmation confirmed conflict confuse confused
confusing confusion connect connected connection connections conscious consciousness
consensus consent consequence consequences conservative conservatives consider consideration
considered considering consistency consistent consistently console consoles conspiracy
constant constantly constitution construction constructive consume consumer consumers
consuming consumption contact contacts contain contained container contains content contest
context continent continue continued continues continuing contract contractor contracts
contrary contrast contribute contributing contribution control controlled controller
controlling controls controversial convenience convenient conversation conversations
converse conversion convert converted convey convince convinced convincing cook cooked
cookie cookies cooking cool cooldown cooler cooling cools cop copies cops copy copyright
coral cord core cork corn corner corners corporate corporation corporations corral correct
corrected correctly correlation corrupt corruption cost costs costume cotton couch cough
could council count counted counter counting countless countries country counts county
couple couples courage course courses court courts cousin cousins cover coverage covered
covering covers cow coworkers coy crack cracked craft crafting crane crap crappy crash
crashed crashes crashing craven craw crazy cream create created creates creating creation
creative creator creature creatures credibility credit credits cree creep creepy crema crew
cried crime crimes criminal criminals cringe crisis crit criteria critical criticism
criticize critique crooks crop cross crossed crossing crowd cruel cruise crush crushed cry
crying crystal cuda cuesta cui cult cultural culture cultures cum cumming cunt cup cups cure
curiosity curious currency current currently curse curt curve custom customer customers cut
cute cuts cutting cuz cycle da dad daddy dag dags dai daily dalla dam damage damaged
damaging dammit damn damned dance dancing danger dangerous dann dans dar dare dark darker
darkness darling das dash dass dat data database date dated dates dating daughter davon daw
day days de dead deadly deal dealer dealing deals dealt dear death deaths debate debating
debt decade decades decent decide decided decides deciding decision decisions deck decks
declare declared decline decrease dedicated deep deeper deeply deer def default defeat
defence defend defender defending defense defensive defiance deficit define defined
definitely definition definitions degree degrees deja dejan del dela delay delete deleted
deliberately delicious deliver delivered delivery della delle delusional dem demand
demanding demands demi demo democracy democratic demographic demon demonstrate den denial
denied denk dense density deny denying department depend dependent depending depends deposit
depressed depressing depression depth der derby des describe described describes describing
description desert deserve deserved deserves desi design designed designer designs desire
desired desires desk desktop desperate desperately despite dessa destroy destroyed
destroying destruction det detail detailed details detect determine determined dev develop
developed developer developers developing development device devices devil devs dex dey di
diagnosed dialogue diamond dias dice dick dicks dictionary did die died dies diet dif differ
difference differences different differently difficult difficulty dig diggin digging digital
dimple din dina ding dink dinner dip direct directed direction directions directly director
dirt dirty disable disabled disagree disappear disappointed disappointing disappointment
disaster disc discipline discount discounts discover discovered discrimination discuss
discussed discussing discussion discussions disease diseases disgusting dish dishes disk
dislike dismiss disorder display disregard distance distinct distinction distinguish
distribution district disturbing dive diver diverse diversity divide divine division divorce
dmg do doc dock doctor doctors document documentary documents dodge dodo does dog doge dogs
doing dole doll dollar dollars dom domain dome domestic dominant dominated donate donations
done dong dono door doors dope dose dot double doubt douche douchebag dour dove down downing
download downloaded downloading downs downside downtown downvote downvoted downvotes
downvoting dozen dozens dps draft drafted drag dragon dragons drain drama dramatic drank
drastically draw drawing drawn draws dream dreams dress dressed dressing drew dries drill
drink drinking drinks drive driven driver drivers drives driving drone drones drop dropped
dropping drops drove drug drugs drum drunk dry du dual dub duck duda dude dudes dudo due
duffel dull dumb dumbass dump dumped dungeon dungeons dunno durante duration during dust
dusty duty dying dynamic ea each ear earlier early earn earned earnest earning ears earth
ease easier easiest easily easy eat eaten eating eats ebay ebb eben ebony echo eco economic
economics economy ect ed edge edges edited editing edition editor edu educate educated
education educational effect effective effectively effects efficiency efficient effort
efforts eg egg eggs ego eh eight einer either ek el ela elaborate elected election elections
electric electrical electricity electronic electronics element elementary elements elif
eliminate elite ell ella elle eller elo els else elsewhere em email emails embarrassed
embarrassing emeralds emergency emit emo emotion emotional emotionally emotions empathy
emphasis employed employee employees employer employers employment empty en enable enabled
encounter encountered encourage encouraged encouraging end enda ended ending endless endo
ends enemies enemy energy enforce enforcement engage engaged engaging engine engineer
engineering engineers engines enjoy enjoyable enjoyed enjoying enjoyment enjoys enormous
enough ensure enter entered entering enterprise entertaining entertainment entire entirely
entirety entitled entity entrance entry environment environmental epic episode episodes
equal equality equally equation equipment equipped equivalent er era eres erode error errors
es esa escape especially essa essence essential essentially est esta establish established
estate este esteem ester estimate et eta etc eternal ether ethical ethics ethnic ethyl even
evening event events eventually ever every everybody everyday everyone everything everytime
everywhere evey evidence evil evolution evolve evolved ex exact exactly exam example
examples excellent except exception exceptions excess excessive exchange excited excitement
exciting exclusive exclusively excuse excuses executed execution exercise exercises exhaust
exist existed existence existing exists exit exotic expand expanding expansion expect
expectation expectations expected expecting expense expenses expensive experience
experienced experiences experiencing experiment expert experts explain explained explaining
explains explanation explicitly explode exploit explore exploring explosion exposed exposure
express expressed expressing expression extend extended extension extensive extent external
extra extrema extreme extremely ey eye eyes fabric fac face faced faces facial facility
facing fact faction factor factors factory facts fade faggot fail failed failing fails
failure fair fairly fairy faith fake fall fallacy fallen falling falls false familiar
families family famous fan fancy fanning fanny fans fantastic fantasy fap far fares farm
farmer farmers farming fart farther fascinating fashion fast faster fastest fat fate father
fathers fatwa fault favor favorite favorites favour favourite fawn fear feat feature
features fed federal fee feed feedback feeding feel feeling feelings feels feely fees feet
feline fell fella feller felling fellow felt fem female females feminine feminism feminist
feminists fence fern ferry festival fetish few fewer fi fiber fica fiction field fielding
fields fifth fight fighter fighters fighting fights figure figured figures figuring fik file
files fill filled filling film films filter filters final finally finals finance financial
financially find finding finds fine finger fingers finish finished finishing finna finns
fire firearm firearms fired fires firing firm first fish fishers fishing fist fit fitness
fits fitting five fix fixed fixes fixing flag flags flair flame flash flat flavor flavors
flaw flawed flaws fleet flesh flew flexible flies flight flip flipped floating flood floor
flora flow flowers fluid fly flying fo focus focused focusing fold folder folk folks follow
followed followers following follows fond fondo font food foods fool foolish foot footage
football for force forced forces forcing foreign forest forever forget forgetting forgive
forgot forgotten fork form forma formal format formats formatting formed former forms
formula forth forum forums forward foster fought foul found foundation fountain four fourth
fps fr fraction frame frames framework franca franchise frankly fraud freak freaked freaking
free freedom freely freeze freezing frequency frequent frequently fresh freshman frick
fridge fried friend friendly friends friendship fries frisk from front frozen fruit
frustrated frustrating frustration fry ft fu fuck fucked fucker fuckers fuckin fucking fucks
fuel full fuller fully fun function functional functionality functioning functions fund
fundamental fundamentally funded funding funds funeral funk funniest funny furniture further
future gain gained gaining gains gal gallon gamble game gameplay gamer gamers games gaming
gang ganja gank gap gar garage garbage garde garden garlic garner garrison gas gate gates
gather gathering gauge gave gay gays gear gem gems gen gender gene general generally
generate generated generation generations generic generous genes genetic genie genius
genocide genre gent genuine genuinely geo get gets getting gf ghost giant gif gifs gift
gifts gil ging ginger girl girlfriend girls give giveaway given gives giving glad gladly
glance glass glasses glitch global glorious glory gloves glue go goa goal goals goblet
goddamn gode gods goes going gold golden golf gona gondola gone gong gonna good goodness
goods gorge gorgeous got goto gotta gotten gouda government governments governor grab
grabbed grabbing grace grad grade grades graduate graduated grain grammar grand grande
grandfather grandma grandmother grandparents grant granted grapevine graph graphic graphics
grasp grass grateful grave gravel gravity gray grays great greater greatest greatly greedy
green greet grew grey grid grill grind grinding grip grit grocery gros gross ground grounds
group groups groves grow growing grown grows growth grund grunt gs guarantee guaranteed
guard guards guerra guess guessing guest guide guidelines guides guild guilt guilty guinea
guitar gull gummi gun guna gunner gunning guns gurney gust gusta gut gute guy guys gym ha
habit habits hack hacked hacker hacking had hagan haha hair haki half halfway hall halls ham
hammer han hand handed handful handle handled handler handles handling hands handy hang
hanging hanno happen happened happening happens happier happily happiness happy har
harassment hard hardcore harder hardest hardly hardware harm harmful harmless harmony harsh
has hassle hasta hasty hat hatch hate hated hates hatin hating hatred hats have haven having
hay hazel he head headed heading headline headphones heads heal healing health healthcare
healthier healthy hear heard hearing heart hearts hearty heat heaven heavier heavily heavy
heck heel heels height hein held heli hell hella heller helm helmet help helped helpful
helping helps hem hence henna hens her herb herd here hero heroes heroin herring hers
herself hickory hidden hide hiding high higher highest highlight highly highschool highway
hilarious hill hills hillside hilo him himself hind hint hip hips hipster hire hired hiring
his historical historically history hit hits hitting ho hobbies hobby hockey hodge hoes hold
holder holding holds hole holes holiday holidays holler home homeless homes homestead
homework homosexual homosexuality hon honest honestly honesty honey honing honor hood hook
hooked hoop hop hope hoped hopefully hopes hoping hora hormones horn horrible horribly
horror horse horses hospital hoss host hostile hosting hot hotel hour hours house household
houses housing how hoy hp hr hu hub huff hug huge hugs huh hull human humanity humans humble
humor hundred hundreds hung hungry hunt hunter hunting hurricane hurt hurting hurts hus
husband hybrid hymen hype hypocritical hypothesis hypothetical ib iba ice icon icy id ide
idea ideal ideas identical identified identify identity ideology idiot idiotic idiots idk
ido ie if ignorance ignorant ignore ignored ignoring ii iii il ill illa illegal illness
illusion ima image images imaginary imagination imagine imagined imagining imgur immaculate
immature immediate immediately immigrants immigration immoral immune imo impact implement
implementation implemented implications implied implies imply implying import importance
important importantly impossible impressed impression impressive improve improved
improvement improvements improving in ina inability inaccurate inappropriate incapable
incentive inch inches incident inclined include included includes including income
inconsistent incorrect incorrectly increase increased increases increasing incredible
incredibly indeed independence independent index indicate indicates indication indicator
indie individual individually individuals industrial industry inevitable inevitably infant
infantry infected infection inferior infinite inflation influence influenced info inform
information informative informed infrastructure inga ingredients inherent inherently initial
initially injured injuries injury ink inner innocent input insane insanely insecure insert
inside insight insist inspiration inspired install installed installing instance instances
instant instantly instead institution institutions instructions instrument instruments
insult insulting insults insurance intake inte integrated integrity intellectual
intelligence intelligent intend intended intense intent intention intentional intentionally
intentions interact interaction interactions interest interested interesting interests
interface internal international internet interpret interpretation interpreted intervention
interview interviews into intro introduce introduced introduction invasion invented
inventory invest invested investigation investing investment invisible invite invited
involve involved involves involving ion irl iron ironic irony irrational irrelevant is ish
island isolated issue issues it italiano item items its itself iv ive jacket jacks jacuzzi
jag jail jam jank jar jarred jaw jazz je jealous jeans jerk jerker jersey jet jewel job jobs
join joined joining joint joke jokes joking jos journalism journey joy judge judged
judgement judging judgment jug juice jump jumped jumping jumps jungle jungler junior junk
jure jury just justice justicia justification justified justify justo kaj kale kalla kan
kana kandi kao kar karma kata katana keep keeping keeps kept keto key keyboard keys kick
kicked kicking kicks kid kidding kidney kids kik kike kill killed killer killing kills kind
kinda kinder kinds kink kiss kit kitchen kitty km knee knees knew knife knives knock knocked
knoll know knowing knowledge known knows ko kool kort kunde kya la lab label labeled labels
labor lack lacking lacks lad ladder ladies lady lag lah laid lake lala lamb lame lament lan
land landed lander landers landing lands lane lanes lang language languages langue lap
laptop large largely larger largest largo lark las laser lass lassen last lasted lasting
lasts late lately later latest latter lattes laugh laughed laughing laughs laughter launch
launched launcher laundry lavender law lawless lawn laws lawyer lawyers lay layer layers
laying layout lazy lbs ld le leach lead leader leaders leadership leading leads leafy league
leagues leak lean leaner leaning leap learn learned learning lease least leather leave
leaves leaving led leech leek leer lees left leg legacy legal legally legend legendary
legislation legit legitimate legitimately legs lei leider lemon lend length lens lenses les
lesbian less lesser lesson lessons let lethal letter letters letting leva level leveling
levels ley liability liar liberal liberals libertad libertarian liberty library lice license
lick lie lied lien lier lies life lifestyle lifetime lift lifting lige light lighter
lighting lightly lightning lights like liked likely likes liking lim limerick limit
limitations limited limiting limits limo line linear lines lineup ling link linked linking
links lip lips liquid liquor lis list lista listed listen listened listening listing lists
lit literal literally literature little liv live lived lives living llamas lmao lo load
loaded loading loads loan loans lobby local located location locations lock locked locks
lofts log logged logi logic logical logically login logo lol lone lonely long longer longest
look looked looking looks loop loose loot lop lope lore los lose loser loses losing loss
losses lost lot lots lotta lottery loud love loved lovely loves lovey loving low lower
lowest loyal lp lucid luck lucky lunch lung lungs luster lute luxury luz lv lvl lying lyric
lyrics ma mace machine machines macho macro mad madam made magazine mage magenta magic
magical magically mai mail main mainly mainstream maintain maintaining maintenance major
majority mak make maker makes makeup making mal mala male males mall mallet malo mama mame
man mana manage managed management manager managers managing manda mandatory mane manga
mangina mango mani manipulate manly manner mans manta manual manually manufacturer
manufacturers manufacturing many map maps marathon mare mares margarita margin marijuana
mark marked market marketing markets marks marriage married marry martial mas mascara mascot
mask mass masse masses massive massively master masters masturbate mat match matched matches
matching matchup mate mater material materials mates math mathy mats matter matters mature
mau max maxed maxi maxim maximum may maybe mayo mayor mayoral md me meadow meal meals mean
meaning meaningful meaningless means meant measure measured measures meat mechanic
mechanical mechanics mechanism med medan media medical medication medicine mediocre
meditation medium meds mee meet meeting meetings meets mega meh melee melody melt member
members membership meme memes memories memory men mens mental mentality mentally mention
mentioned mentioning mentions mentor menu mercado merchant mercy merda mere merely merino
merit merrily mess message messages messed messing messy met meta metal meter meters meth
method methods metric metro mi mic mich micro microwave mid middle midnight midway mie might
mignon mild mildly mile miles military milk mille millet million millions mills mim min mina
mind minded minds mindset mine miner mini minimal minimum mining minions minor minorities
minority mins minus minute minutes mio mir miracle mirror miserable misleading miss missed
missing mission missions mist mistake mistaken mistakes misunderstanding misunderstood mix
mixed mixing mo moan mob mobile mobility mobs mocha mod mode model models moderate
moderators modern modes modified mods moe moet mojo mol moles mom moment moments momentum
mon money monitor monitors monk monkey monks monopoly mons monster monsters month monthly
months mood moody moon moons moral morality morally morals more mores morning moron morons
mortgage most mostly motha mother motherboard motherfucker mothers motion motivated
motivation motor motorcycle mount mountain mountains mouse mouth move moved movement
movements moves movie movies moving ms mu much mucha mule mulligan multi multiplayer
multiple mum muni murder murdered muscle muscles music musical must mut mutual my myself
mystery myth na nacho nada nades nail nails nair naive naked name named names nan narrative
narrow nary nasty natal nation national nations native natural naturally nature nb ne near
nearby nearest nearly neat necessarily necessary necessity neck nee need needed needing
needs negative neighbor neighborhood neighbors neither nel nella neo ner nerd nerf nerfed
nerve nervous net network networks neutral never new newer news newspaper next ni nice
nicely nicer niche nickel nickels nickname night nightmare nights nil nine ninja nipples no
noble nobody noe noise non none nonetheless nonsense noob noone nor nori norm normal
normally nose nostalgia not nota note noted notes nothing notice noticeable noticed noticing
notion novel novella novels novelty now nowadays nowhere nt nu nuclear nuke number numbers
numerous nur nurse nut nuts nya nyc oak obese object objective objectively objects
obligation obnoxious obra obscure observation obsessed obtain obvious obviously occasion
occasional occasionally occasions occur occurred occurs ocean och octave od odd odds of off
offended offense offensive offer offered offering offers office officer officers official
officially officials offline often ogre oil ok okay ol old older oldest olds ole oline olive
om omg on ona once onda one ones online only onto op open opened opening openly opens
operate operating operation operations opinion opinions opponent opponents opportunities
opportunity oppose opposed opposing opposite opposition oppression opt optimal option
optional options or ora oral orange oras orbit orchard orchards order ordered ordering
orders ordinary org organic organization organizations organized orgasm orientation oriented
origin original originally oss osu ota other others otherwise ou ought our ours ourselves
out outcome outdated outfit outlet output outright outside outta ova ove oven over overall
overcome overland overly overnight overrated overseas overweight overwhelming owe own owned
owner owners ownership owning owns oxygen pa pace pack package packages packed packs pad
pads page pages paid pain painful paint painted painting pair pairs pal pala palm pan panel
panels pang panic panini pansy pant panties pants pap papaya paper papers par para paradise
paragraph parallel paramount paranoid pare parent parents park parking parks parole parry
part partial partially participate particles particular particularly parties partly partner
partners parts party pas pasan pass passed passes passing passion passionate passive
password past pasta paste pastor pat patch patches patent path pathetic paths patience
patient patients patsy pattern patterns patty pause paw pay paycheck payer paying payment
payments pays pc peace peaceful peacock peak peanut pearly peck pee peer peers peine pela
pellet pen pena penalties penalty pencil penis penny pent people peoples pepper per perceive
perceived percent percentage perception perfect perfectly perform performance performed
performing perhaps peri period periods perm permanent permanently permission permit pero
person personal personality personally persons perspective pest pet peta petit petri pets
petty phase phd phenomenon philo philosophical philosophy phone phones photo photographer
photography photos photoshop phrase physical physically physics pi piano pic pick picked
picking picks pickup pics picture pictures pie piece pieces pier pig pile pill pills pilot
pilots pin pina ping pink pipe piracy piranhas pirate pire piss pissed pisses pissing pistol
pit pita pitch pity pixels pizza place placed placement places placing plain plan plane
planes planet planets plank planned planning plans plant plantation plants plaque plastic
plate plates platform platforms plausible play played player players playing playoff
playoffs plays pleas pleasant pleased pleasure plenty plot pls plug plugged plum plunge plus
plz pm pocket pockets podcast point pointed pointing pointless points poison poke pokemon
pole police policies policy polis polish polite political politically politician politicians
politics poll polo pony pool poop poor poorly poos pop popped popping poppy pops popular
popularity population por pork porn port porta portal portion ports pose position positions
positive posse possession possibilities possibility possible possibly post posted poster
posters posting posts pot potato potatoes potential potentially poti pound pounds pour pout
poverty powder power powered powerful powers ppl pr practical practically practice practices
practicing praise prat prata pray prayer pre precious precise precisely predict prefer
preferably preference preferences preferred prefixes pregnancy pregnant prem premise premium
prepare prepared prescription presence present presentation presented presents president
press pressed pressing pressure presumably pretend pretending pretty prevent preventing
prevents previous previously price priced prices pricing prick pride priest prima primarily
primary prime principle principles print printed printer printing prior priority prison
privacy private privilege prize pro probability probably problem problematic problems
procedure proceed proceeded process processes processing processor produce produced produces
producing product production productive products prof profession professional professionals
professor professors profile profit profitable profits program programmer programming
programs progress progression progressive project projects promise promised promising
promote promoting promotion prone pronounced proof propaganda proper properly properties
property proposed pros prosper protect protected protecting protection protein protest
protests proud prove proved proven proves provide provided provider provides providing
proving prudence psychological psychology pu pub public publicly published puck pueblo pula
pull pulled pulling pulls pump pun punch punched punish punished punishment punk puns puppy
purchase purchased purchases purchasing purdy pure purely purity purl purple purpose
purposes pursue push pushed pushes pushing pussy put puto puts putting putz puzzle pvp
qualified qualify qualities quality quantum quarter que queens quero quest question
questionable questioning questions quests queue quick quicker quickly quiet quill quint quit
quite quitting quote quoted quotes rabbit race races racial racing racism racist rack radar
radi radiation radical radio rage raha raid rail rails rain raise raised raises raising ram
ran random randomly range ranged rank ranked ranking ranks ransom rant rap rape raped
rapidly rapist rare rarely rasa rat rate rated rates rather rating ratings ratio rational
rau raw razor re rea reach reached reaches reaching react reaction reactions read reader
readers reading reads ready real realise realised realistic reality realize realized
realizing really realm rear reason reasonable reasonably reasoning reasons recall receive
received receiver receiving recent recently recipe recipes recognition recognize recognized
recommend recommendation recommendations recommended record recorded recording records
recover recovery red redan reddit redditor redditors reduce reduced reducing reduction ref
refer reference references referencing referred referring refers reflect reflection reform
reforma refs refund refuse refused refuses refusing regard regarding regardless regards
regime region regional regions register registered regret regular regularly regulation
regulations rein reject rejected rek relate related relation relations relationship
relationships relative relatively relax relaxed release released releases releasing relevant
reliable relief religion religions religious rely remain remaining remains remake remember
remembered remembering remind reminded reminder reminds remote remotely removal remove
removed removing render renders rent rental rep repair repeat repeated repeatedly repeating
replace replaced replacement replacing replay replied replies reply replying repo report
reported reporting reports repost represent representation representative represented
represents reps reputation request requested requests require required requirement
requirements requires requiring res rescue research reserve reservoir reset resist
resistance resolution resolve resolved resort resource resources respect respected
respectful respond responded responding response responses responsibility responsible rest
restart restaurant restaurants restore restricted restrictions resubmit result resulted
resulting results resume retail retard retarded retire retired retirement retreat return
returned returning returns reunion rev reveal revealed revenge revenue revere reverse review
reviewed reviews revolution reward rewarding rewards rice rich richer rid riddle ride rides
ridiculous ridiculously riding rifle rifles rig right rights rim ring rings rip ripped risa
rise rising risk risks risky river roach road roads roar roba robit robot robots rock rocket
rockets rocks rod rode role roles roll rolled rollin rolling rolls romaine romance romantic
roof rookie room roommate rooms root roots rope rosemary roses roster rosy rotation rough
roughly round rounds rout route router routes routine roux row rub rubber rude rugby ruin
ruined ruining ruins rule ruled rules ruling run rune runes runner running runs rural ruse
rush rushed rushing rust rusty rut rye sa saar sack sacrifice sad sadly safari safe safely
safer safety saga sage sai said sake salad salami salary sale sales salmon salt salud salvo
sama samba same samo sample samples sand sandal sander sands sandwich sane sang sangha sans
sant saran sarcasm sarcastic sarin sas sass sat satire satisfaction satisfied satisfying
sauce savant save saved saves saving savings saw say sayers sayin saying says scale scales
scam scan scare scared scares scary scenario scenarios scene scenes schedule scheme schmuck
schon school schools sci science scientific scientist scientists scope score scored scores
scoring scout scratch scream screaming screen screens screenshot screenshots screw screwed
script scroll scum se sea seal sealed search searched searching seaside season seasons seat
seats sec second secondary seconds secret secretly section sections sector secular secure
security sedan see seed seeds seeing seek seeking seem seemed seemingly seems seen sees
segundo select selected selection self selfish sell seller sellers selling sells sem
semester semi sen send sending sends senior sens sense sensible sensitive sensor sent
sentence sentences sentiment separate separated sequel sequence sera seria serial series
serious seriously serve served server servers serves service services serving session
sessions set sets setting settings settle settled setup seven sever several severe severely
sex sexism sexist sexual sexuality sexually sexy sha shade shadow shadows shady shake
shaking shall shallow shame shape shaped shaping share shared shares sharing shark sharp
shave shaving she shed sheep sheer sheet sheets shelf shell shelter sherry shes shi shield
shields shift shifts shih shine shiny ship shipped shipping ships shirt shirts shit shits
shitting shitty shock shocked shocking shoe shoes shoot shooter shooting shoots shop
shopping shops shoreline short shorter shortly shorts shot shotgun shots should shoulder
shoulders shout shove show showed shower showing shown shows shut shy si siblings sick side
sidebar sided sides sie sig sigh sight sign signal signals signed significant significantly
signing signs sigs silence silent silk silly silver sim similar similarly simmering simple
simpler simply simultaneously sin sina since sincere sine sing singer singing single
singleton sink sinner sip sir sire sis sista sister sisters sit site sites sits sitten
sitters sitting situation situations six size sized sizes skeptical skill skilled skills
skin skinny skins skip skipped skull sky slap slave slavery slaves sleep sleeping slept
slice slide slight slightest slightly slim slip slipped slot slots slough slow slower slowly
slut small smaller smart smarter smash smell smells smile smiles smiling smoke smoked
smoking smooth snake snap sneak sniper snow so soap sober soccer social socialism socialist
socially societies society socks soda soe soft software soi soil sola solar sold soldier
soldiers sole solely solid solo solution solutions solve solved solving som some somebody
someday somehow someone something sometime sometimes somewhat somewhere son song songs soo
soon sooner sore sorry sort sorta sorts soul souls sound sounded sounding sounds soundtrack
soup source sources southern space spaces spam spamming span spare sparks spawn speak
speaker speakers speaking speaks spears spec special species specific specifically specify
specs spectrum speculation speech speed speeds spell spelled spelling spells spend spending
spends spent spider spiders spies spin spinning spirit spiritual spit split spoiled spoiler
spoilers spoke spoken sport sports spot spots spray spread spreading spring springs spy
squad square squat squeeze squire stab stability stable stack stacks stadium staff stage
stages stains stairs stance stand standard standards standing standpoint stands star stare
staring stars start started starter starters starting starts starving stat state stated
statement statements states static stating station stations statistics stats status stay
stayed staying stays steady steak steal stealing stealth steam steed steel steer stem step
stepped stepping steps stereotype stereotypes stern steward stick sticker sticking sticks
sticky still stock stocker stocks stole stolen stomach stone stoned stones stood stop
stopped stopping stops storage store stored stores storey stories storm storms stormy story
storyline stout stow straight strain strand strange stranger strangers strategies strategy
straw streak stream streaming streams street streets strength stress stressed stressful
stretch strict strictly strike strikes string strings strip stroke strong stronger strongest
strongly struck structure structures struggle struggling stuck student students studied
studies studio study studying stuff stun stupid stupidity style styles su sub subject
subjective subjects submission submissions submit submitted submitting subreddit subreddits
subs subscribe subscription substance substantial substitute subtle succeed success
successful successfully such suck sucked sucking sucks sudden suddenly sue suffer suffered
suffering sufficient sugar suggest suggested suggesting suggestion suggestions suggests
suicide suit suitable suited suits sulphur sum summary summer summers summit sun sung sunny
sunrise sunset sunshine super superior supernatural supple supplies supply support supported
supporters supporting supportive supports suppose supposed supposedly sur sure surely
surface surgery surprise surprised surprising surprisingly surrounded surrounding survey
survival survive survived sus suspect suspended suspension suspicious sustain swap swear
sweat sweet swim swimming swing switch switched switches switching sword swords symbol
sympathy symptoms sync sys system systems tab table tables tablet tabs tack tackle tactic
tactics tad tag tage tagged tags tai tail tailor tak take taken takes taking tal talent
talented talk talked talking talks tall taller tame tan tank tanks tanta tap tape target
targeted targets tartar task tasks taste tastes tasty tattoo tattoos taught tax taxes tbh te
tea teach teacher teachers teaches teaching team teammates teams tear tears tech technical
technically technique techniques technology teen teenage teenager teenagers teens teeth
television tell telling tells telly tema temp temperature temple temporarily temporary
tempted ten tend tendency tends tension tequila term terme terminal terms terrace terrible
terribly terrified terrifying territory terror terrorism terrorist terrorists test tested
testing tests text texting texts texture than thankful that the theater theft their theirs
them theme themes themselves then theories theory therapist therapy there therefore theres
these theta they thi thick thin thing things think thinking thinks third this tho thoroughly
thors thos those though thought thoughts thousand thousands thread threads threat threatened
threatening threats three threw throat through throughout throw throwing thrown throws thru
thumb thus ti ticket tickets tie tied tienen tier tierra ties tight til tilde till time
timeline timer times timing tine ting tins tiny tip tips tire tired tires tissue title
titles tits to tobacco today toe toes together toilet toker told tolerance toma tomar tome
tomorrow toms ton tone toner tongue tonight tons too took tool tools toon tooth tooting
toots top topic topics tops tore torn torrent torrents torture toss total totally touch
touched touches touching tough tour tournament tournaments tours toward towards towel tower
towers town towns toxic toy toys trace track tracking tracks trade traded trades trading
tradition traditional traffic trail trailer train trained training trains trait traits trans
transaction transactions transfer transit transition translate translation transmission
transport transportation trap trapped traps trash travel traveling tre treasure treat
treated treating treatment treats tree trees trend tri trial trick tricks tricky tried tries
trigger trilby trilogy trip triple trips trivial troll trolling trolls troops trouble trub
truck trucks true truly trust trusted truth try trying tu tube tuition tumblr tune tung
tunnel tur turbo turkey turn turned turning turns tutorial tutu tv tweet twenty twice twin
twist twisted twitch twitter two ty tye type typed types typical typically typing typo tyre
uden ugly ult ultimate ultimately ultra uma un una unable unavailable unaware uncle
uncomfortable uncommon und under underground underlying underneath underrated understand
understandable understanding understands understood underwear unemployed unemployment
unexpected unfair unfortunate unhappy unhealthy uni uniform union unions unique unis unit
units universal universe universidad universities university unknown unless unlike unlikely
unlimited unlock unlocked unnamed unnecessary uno unpopular unrealistic unreasonable
unrelated unsure until unusual up upcoming update updated updates upgrade upgraded upgrades
upgrading upload uploaded upon upper ups upset upside upvote upvoted upvotes ur urban urge
urs us usage use used useful useless user username users uses using usual usually utan ute
utility utter utterly vaca vacation vacuum vagina vague vain valence valid valuable value
values valves van vanilla vape vara variable variables variation varies variety various vary
vast vastly veer vegan vegetables vegetarian veggies vehicle vehicles velocity vendor ver
verify vero vers versa verse version versions versus vertical very vet veta vezi vi via
viable vial vibe vice victim victims victors victory vid vida vide video videos view viewed
viewers viewing viewpoint views vill village villain ville vineyard vino viola violate
violated violation violence violent virgin virtual virtually virus visar visible vision
visit visited visiting visual vite vocal vodka voi voice voices void voltage volume
volunteer von vos vote voted voters votes voting vs vulnerable vw wa wage wages wai waist
wait waited waiting wake waking walk walked walking walks wall wallet wallpaper walls walnut
wanna want wanted wanting wants war ward wards ware waren warm warmer warming warned warning
warrant warranty warrior wars was wash washed washing wasnt waste wasted wasting wat watch
watched watches watching water waters watt watts wave waves way ways we weak weaker weakness
wealth wealthy weapon weapons wear wearing wears weather web website websites wedding weed
week weekend weekends weekly weeks weigh weight weights weird welcome welfare well welling
wen went were western wet wetter what whatever whatnot whats whatsoever wheel wheeling
wheels when whenever where whereas wherever whether which while whilst whining whit white
whites who whoever whole whom whore whose why wide widely wider width wiener wife wifi wiki
wil wild will willing wills willy win wind winder window windy wine wing wings winner
winning wins winter winters wipe wiped wire wireless wisdom wise wish wishes witch with
within without witness wizard wm wo woke wolf woman women won wonder wondered wonderful
wondering wonders wood wooden woodland woods word worded wording words wore work worked
worker workers working workout works world worlds worms worn worried worries worry worrying
worse worship worst worth worthless worthwhile worthy would wouldnt wound wrap wrapped wreck
wrestling wrist write writer writers writes writing written wrong wrote wtf xhosa ya yada
yard yards yaw ye year years yeast yell yelled yelling yellow yen yesterday yet yin ying yo
yoga you young younger your youre yours yourself youth youtube zero zombie zombies zona zone
zones zou
"""

COMMON_WORDS: frozenset[str] = frozenset(_WORDS.split())
