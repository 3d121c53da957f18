# Creates a session holding every kind of value the interop tests check, and prints its id.
use strict;
use warnings;
use utf8;
use FindBin;
require "$FindBin::Bin/common.pl";

my $config = config_from_argv();
my %session;
tie_session($config, \%session, undef);

$session{user} = { name => 'Ann', roles => ['admin', 'editor'], address => { city => 'Zürich', zip => '8001' } };
$session{unicode} = { 'clé' => 'café', '日本' => '東京', emoji => "\x{1F600}" };
$session{integers} = { small => 42, negative => -7, int32 => 2147483647, int32_negative => -2147483648,
                       int33 => 4294967296, int64 => 9007199254740993, int64_negative => -9223372036854775807 - 1 };
$session{floats} = { pi => 3.14159, tenth => 0.1, huge => 1e300, negative => -2.5 };
$session{nothing} = undef;
$session{empty} = {};
$session{object} = bless { name => 'Ann', level => 3 }, 'My::User';
$session{list} = [1, 'two', 3.5, undef, [4, 5], { six => 6 }];
$session{visits} = 1;

print $session{_session_id}, "\n";
untie %session;
